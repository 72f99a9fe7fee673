"""The graph variants' measured costs and the rule that picks the variant fastest in total time.

Pure Python (no TensorFlow import): the bench and the training read these figures; the names are eagergraph/modes.py.
"""

from __future__ import annotations

from eagergraph.modes import VARIANTS, GraphVariant, Variant
from eagergraph.modes import Mode as Mode  # core/training.py imports Mode from here

# The one-time cost (tracing, graph optimization, XLA compilation) and the steady-state seconds per step of each
# variant, measured by `eagergraph bench` on a quiet machine (2-core CPU, TF 2.21, default model, batch 32,
# 32,000 rows; the bench prints its own break-evens beside this rule's). `step` traces fastest, `fused` runs a step
# 7x faster, `xla` compiles longest and runs a step 9x faster again: `auto` runs whichever has the least predicted
# total for the run's steps, i.e. `step` below about 60 steps, `xla` from about 5,900, `fused` between. The figures
# move with the machine's load; near a break-even the totals differ by a few percent either way.
ONE_TIME_SECONDS: dict[Variant, float] = {"step": 0.16, "fused": 0.20, "xla": 0.74}
STEP_SECONDS: dict[Variant, float] = {"step": 740e-6, "fused": 103e-6, "xla": 11.3e-6}


def predicted_seconds(variant: Variant, steps: int) -> float:
    """Total training time the measured figures predict for `steps` steps of a variant."""
    return ONE_TIME_SECONDS[variant] + steps * STEP_SECONDS[variant]


def steps_to_pay_back(slower_once: float, faster_once: float, slower_step: float, faster_step: float) -> float | None:
    """The break-even rule, written once: training steps after which the faster variant's extra one-time cost
    (tracing, compiling; 0 when it costs nothing extra) is paid back by its faster steps (extra one-time seconds ÷
    seconds saved a step). None when its steps are not faster: it never pays back."""
    saved = slower_step - faster_step
    return max(faster_once - slower_once, 0.0) / saved if saved > 0 else None


def break_even_steps(slower: Variant = "fused", faster: Variant = "xla") -> float | None:
    """The break-even of two variants by the measured figures `auto` decides with."""
    return steps_to_pay_back(ONE_TIME_SECONDS[slower], ONE_TIME_SECONDS[faster], STEP_SECONDS[slower], STEP_SECONDS[faster])


def choose_variant(requested: GraphVariant, steps: int) -> tuple[Variant, str]:
    """The variant to run and why: the one asked for, or for `auto` the one fastest in total time for `steps`."""
    if requested != "auto":
        return requested, "asked for"
    totals = {variant: predicted_seconds(variant, steps) for variant in VARIANTS}
    best = min(totals, key=totals.__getitem__)
    shown = ", ".join(f"{variant} {seconds:.2f}s" for variant, seconds in totals.items())
    return best, f"auto: fastest in total for {steps:,} steps (predicted {shown})"

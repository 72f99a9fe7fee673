"""The modes and graph variants, defined once, and the rule that picks the variant fastest in total time.

Pure Python (no TensorFlow import): the config, the CLI and the reports read these names without starting TF.
"""

from __future__ import annotations

from typing import Literal, get_args

Mode = Literal["eager", "graph"]
MODES: tuple[Mode, ...] = get_args(Mode)

Variant = Literal["step", "fused", "xla"]
VARIANTS: tuple[Variant, ...] = get_args(Variant)
GraphVariant = Literal["auto", "step", "fused", "xla"]  # what a user may ask for; `auto` resolves to a Variant

# The one-time cost (tracing, graph optimization, XLA compilation) and the steady-state seconds per step of the
# two fastest variants, measured by `eagergraph bench` (2-core CPU, TF 2.21, default model, batch 32; it prints
# the measured break-even beside this rule's). `xla` compiles for about 0.6 s longer and then saves about 0.1 ms
# a step, so it pays after about 5,700 steps (measured: 5,546 at 32,000 rows). Both figures move with the
# machine's load; near the break-even the two totals differ by a few percent either way.
ONE_TIME_SECONDS = {"fused": 0.3, "xla": 0.9}
STEP_SECONDS = {"fused": 125e-6, "xla": 20e-6}


def break_even_steps(one_time: dict[str, float] = ONE_TIME_SECONDS, step: dict[str, float] = STEP_SECONDS) -> float:
    """Steps after which `xla`'s longer compile is paid back by its faster steps (compile ÷ seconds saved a step)."""
    return (one_time["xla"] - one_time["fused"]) / (step["fused"] - step["xla"])


def choose_variant(requested: GraphVariant, steps: int) -> tuple[Variant, str]:
    """The variant to run and why: the one asked for, or for `auto` the one fastest in total time for `steps`."""
    if requested != "auto":
        return requested, "asked for"
    limit = break_even_steps()
    if steps >= limit:
        return "xla", f"auto: {steps:,} steps >= break-even {limit:,.0f}, compiling the loop pays"
    return "fused", f"auto: {steps:,} steps < break-even {limit:,.0f}, XLA's compile time would dominate"

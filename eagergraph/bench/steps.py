"""`eagergraph bench`: eager, every graph variant and Keras `fit`, on the same data, model and seed, in one process.

Every figure comes from per-epoch wall times, the same way for every contender:
- steady state: the median epoch after the first (the first pays tracing, graph optimization, XLA compilation
  and warm-up), times the number of epochs;
- one-time (reported as tracing): total minus steady state;
- median step: the steady epoch divided by its steps.
Eager may be bounded to a number of steps at large sizes; its times are then the training run's own
extrapolation (`TrainResult.full_train_seconds`), and the table says so. Every epoch's time ends when its
totals are read, which waits for its last step: no unfinished work is left outside the clock.
"""

from __future__ import annotations

import statistics
import time
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from eagergraph.core.variants import VARIANTS, steps_to_pay_back
from eagergraph.core.variants import break_even_steps as auto_break_even
from eagergraph.metrics import DEFAULT_TASK

CONTENDERS = ("eager", *VARIANTS, "keras_fit")
KERAS_STEPS_PER_EXECUTION = (1, 32, 1000)
KERAS_JIT_COMPILE = (False, True)


@dataclass
class Timing:
    """One contender at one size (the median over repeats)."""

    name: str
    trace_seconds: float
    steady_seconds: float
    total_seconds: float
    steps_per_second: float
    median_step_ms: float
    final_loss: float | None
    extrapolated: bool = False
    detail: str = ""
    vs_eager: float = 0.0
    vs_eager_total: float = 0.0
    vs_keras_fit: float = 0.0
    vs_keras_fit_total: float = 0.0


# Classes of the synthetic multiclass label (see eagergraph.data.ingest.synthetic_batches).
SYNTHETIC_CLASSES = {"binary": 2, "multiclass": 3, "regression": 1}


def training_matrix(rows: int, n_features: int, seed: int, task: str = DEFAULT_TASK) -> tuple[np.ndarray, np.ndarray]:
    """The pipeline's synthetic data (the task's label) through the pipeline's one preprocessing, all rows used
    for training; a regression target standardized, as the pipeline trains on it."""
    from functools import partial

    import pyarrow as pa

    from eagergraph.data.io import LABEL, feature_matrix
    from eagergraph.data.preprocessing import preprocess
    from eagergraph.data.synthetic import synthetic_batches

    table = pa.Table.from_batches(list(synthetic_batches(rows, n_features, seed, task=task)))
    raw = feature_matrix(table, [f"x{i}" for i in range(n_features)])
    x = preprocess(raw, raw.mean(axis=0), raw.std(axis=0), partial(np.concatenate, axis=1), lambda z: z.astype(np.float32),
                   np.clip)
    y = table.column(LABEL).to_numpy().astype(np.float64)
    if task == "regression":
        y = (y - y.mean()) / (y.std() or 1.0)
    return x, y.astype(np.float32).reshape(-1, 1)


def _from_epochs(name: str, epoch_seconds: list[float], total: float, epochs: int, steps_per_epoch: int,
                 final_loss: float | None) -> Timing:
    steady_epoch = statistics.median(epoch_seconds[1:]) if len(epoch_seconds) > 1 else epoch_seconds[0]
    steady = steady_epoch * epochs
    trace = max(total - steady, 0.0)
    step_ms = steady_epoch / steps_per_epoch * 1000.0
    return Timing(name, trace, steady, trace + steady, 1000.0 / step_ms, step_ms, final_loss)


def time_ours(name: str, x: np.ndarray, y: np.ndarray, epochs: int, batch_size: int, hidden: int,
              learning_rate: float, seed: int, eager_max_steps: int, task: str = DEFAULT_TASK) -> Timing:
    """Eager or one graph variant through the pipeline's own `train` (eager bounded to `eager_max_steps`)."""
    from eagergraph.core.training import train

    mode, variant = ("eager", "step") if name == "eager" else ("graph", name)
    max_steps = eager_max_steps if name == "eager" else None
    _, result = train(x, y, mode, variant, epochs, batch_size, hidden, learning_rate, seed, max_steps=max_steps,
                      task=task, n_classes=SYNTHETIC_CLASSES[task])
    if result.bounded:
        steady = result.full_train_seconds - result.trace_seconds
        return Timing(name, result.trace_seconds, steady, result.full_train_seconds, 1000.0 / result.median_step_ms,
                      result.median_step_ms, None, extrapolated=True,
                      detail=f"extrapolated from {result.steps} measured steps")
    return _from_epochs(name, result.epoch_seconds, result.train_seconds, epochs, result.steps_per_epoch,
                        result.history[-1]["loss"])


def _keras_may_jit(jit_compile: bool) -> AbstractContextManager:
    """A jitted fit runs with op determinism off (see `op_determinism_off`), so Keras really runs XLA."""
    from eagergraph.core.runtime import op_determinism_off

    return op_determinism_off() if jit_compile else nullcontext()


def time_keras_fit(x: np.ndarray, y: np.ndarray, epochs: int, batch_size: int, hidden: int, learning_rate: float,
                   seed: int, steps_per_execution: int, jit_compile: bool, task: str = DEFAULT_TASK) -> Timing:
    """The peer a user would pick instead: `model.compile(...)` + `model.fit`, same model, optimizer and seed. Fit's
    shuffling needs TensorFlow's global seed under op determinism: process-wide state, set by the `bench` command."""
    import keras

    from eagergraph.core.training import build_model

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            seconds.append(time.perf_counter() - self.started)

    seconds: list[float] = []
    model = build_model(x.shape[1], hidden, seed, task, SYNTHETIC_CLASSES[task])
    loss = {"binary": keras.losses.BinaryCrossentropy(), "multiclass": keras.losses.SparseCategoricalCrossentropy(),
            "regression": keras.losses.MeanSquaredError()}[task]
    with _keras_may_jit(jit_compile):
        model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss,
                      steps_per_execution=steps_per_execution, jit_compile=jit_compile)
        started = time.perf_counter()
        history = model.fit(x, y, batch_size=batch_size, epochs=epochs, shuffle=True, verbose=0, callbacks=[EpochTimer()])
        total = time.perf_counter() - started
    steps = -(-len(x) // batch_size)
    timing = _from_epochs("keras_fit", seconds, total, epochs, steps, float(history.history["loss"][-1]))
    timing.detail = f"steps_per_execution={steps_per_execution}, jit_compile={jit_compile}"
    return timing


def _median(timings: list[Timing]) -> Timing:
    """The repeat with the median steady-state time (keeps each row's figures from one real run)."""
    ordered = sorted(timings, key=lambda t: t.steady_seconds)
    return ordered[len(ordered) // 2]


def bench_size(rows: int, epochs: int, batch_size: int, hidden: int, learning_rate: float, seed: int,
               repeats: int, eager_max_steps: int, n_features: int | None = None, task: str = DEFAULT_TASK) -> dict[str, Timing]:
    """Every contender at one size, repeats interleaved so drift hits all alike; median per contender."""
    from eagergraph.config import PipelineConfig

    x, y = training_matrix(rows, n_features or PipelineConfig.model_fields["n_features"].default, seed, task)
    runs: dict[str, list[Timing]] = {name: [] for name in CONTENDERS}
    for _ in range(repeats):
        for name in CONTENDERS[:-1]:
            runs[name].append(time_ours(name, x, y, epochs, batch_size, hidden, learning_rate, seed, eager_max_steps, task))
        fits = [time_keras_fit(x, y, epochs, batch_size, hidden, learning_rate, seed, k, jit, task)
                for k in KERAS_STEPS_PER_EXECUTION for jit in KERAS_JIT_COMPILE]
        runs["keras_fit"].append(min(fits, key=lambda t: t.steady_seconds))  # Keras at its best
    result = {name: _median(timings) for name, timings in runs.items()}
    eager, keras_fit = result["eager"], result["keras_fit"]
    for timing in result.values():
        timing.vs_eager = eager.steady_seconds / timing.steady_seconds
        timing.vs_eager_total = eager.total_seconds / timing.total_seconds
        timing.vs_keras_fit = keras_fit.steady_seconds / timing.steady_seconds
        timing.vs_keras_fit_total = keras_fit.total_seconds / timing.total_seconds
    return result


def measured_break_even(slower: Timing, faster: Timing) -> float | None:
    """The break-even rule (eagergraph.core.variants.steps_to_pay_back) on two measured timings."""
    return steps_to_pay_back(slower.trace_seconds, faster.trace_seconds, slower.median_step_ms / 1000.0,
                             faster.median_step_ms / 1000.0)


def pay_off(timings: dict[str, Timing], steps: int) -> dict:
    """Break-even step counts (each variant against eager; xla against fused, the rule `auto` applies) and
    what `auto` chooses for this run, against the variant that was really fastest in total time."""
    from eagergraph.core.variants import choose_variant

    ours = {name: timings[name] for name in VARIANTS}
    return {"break_even_steps": {name: measured_break_even(timings["eager"], t) for name, t in ours.items()},
            "xla_vs_fused_break_even_steps": measured_break_even(timings["fused"], timings["xla"]),
            "auto_rule_break_even_steps": auto_break_even(), "steps": steps,
            "auto_chooses": choose_variant("auto", steps)[0],
            "fastest_in_total": min(ours, key=lambda name: ours[name].total_seconds)}


def run_bench(sizes: list[int], epochs: int, batch_size: int, hidden: int, learning_rate: float, seed: int,
              repeats: int, eager_max_steps: int, task: str = DEFAULT_TASK) -> dict:
    """The whole benchmark as a JSON-able dict (the `--json` line)."""
    import platform

    import tensorflow as tf

    report: dict = {"config": {"epochs": epochs, "batch_size": batch_size, "hidden": hidden, "learning_rate": learning_rate,
                               "seed": seed, "task": task, "repeats": repeats, "eager_max_steps": eager_max_steps,
                               "tensorflow": tf.__version__, "cpus": _cpus(), "machine": platform.machine()},
                    "sizes": {}}
    for rows in sizes:
        timings = bench_size(rows, epochs, batch_size, hidden, learning_rate, seed, repeats, eager_max_steps, task=task)
        report["sizes"][str(rows)] = {name: asdict(t) for name, t in timings.items()}
        report["sizes"][str(rows)].update(pay_off(timings, -(-rows // batch_size) * epochs))
    return report


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 0


COLUMNS = ("contender", "trace+compile s", "steady s", "total s", "median step ms", "break-even steps",
           "vs eager steady / total", "vs keras fit steady / total", "final loss")


def _row(name: str, t: dict, break_even: float | None) -> list[str]:
    return [name + (f" [{t['detail']}]" if t["detail"] else ""), f"{t['trace_seconds']:.3f}", f"{t['steady_seconds']:.3f}",
            f"{t['total_seconds']:.3f}", f"{t['median_step_ms']:.4f}", "" if break_even is None else f"{break_even:,.0f}",
            f"{t['vs_eager']:.1f}x / {t['vs_eager_total']:.1f}x", f"{t['vs_keras_fit']:.2f}x / {t['vs_keras_fit_total']:.2f}x",
            "n/a (bounded)" if t["final_loss"] is None else f"{t['final_loss']:.4f}"]


def render(report: dict) -> list:
    """Rich tables, one per size, plus the pay-off lines (break-even: steps after which a contender's one-time
    cost is paid back against eager)."""
    from rich.table import Table

    out: list = []
    cfg = report["config"]
    for rows, timings in report["sizes"].items():
        table = Table(title=f"{rows} training rows, batch {cfg['batch_size']}, {cfg['epochs']} epochs "
                            f"(median of {cfg['repeats']})")
        for column in COLUMNS:
            table.add_column(column, justify="left" if column == "contender" else "right")
        for name in CONTENDERS:
            table.add_row(*_row(name, timings[name], timings["break_even_steps"].get(name)))
        out.append(table)
        pays = [f"{name} after {steps:,.0f} steps" for name, steps in timings["break_even_steps"].items() if steps is not None]
        xla = timings["xla_vs_fused_break_even_steps"]
        out.append("graph execution pays for its one-time cost (tracing, compilation) after: " + "; ".join(pays) + ". "
                   f"xla pays for its compile against fused after {'never' if xla is None else f'{xla:,.0f}'} steps "
                   f"(auto's rule: {timings['auto_rule_break_even_steps']:,.0f}); this run has {timings['steps']:,} "
                   f"steps: auto chooses {timings['auto_chooses']}, fastest in total was {timings['fastest_in_total']}.")
    return out


def plot(report: dict, path: Path) -> Path:
    """A PNG of median step time per contender and size (log scale): the chart the UI artifact shows, on disk."""
    from eagergraph.reporting.charts import bench_png

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bench_png(report, CONTENDERS, dpi=110))
    return path

"""`eagergraph bench`: eager, every graph variant and Keras `fit`, on the same data, model and seed, in one process.

Every figure comes from per-epoch wall times, the same way for every contender:
- steady state: the median epoch after the first (the first pays tracing, graph optimization, XLA compilation
  and warm-up), times the number of epochs;
- one-time (reported as tracing): total minus steady state;
- median step: the steady epoch divided by its steps.
Eager may be bounded to a number of steps at large sizes; its times are then extrapolated from its measured
steady step time, and the table says so.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

CONTENDERS = ("eager", "step", "fused", "xla", "keras_fit")
KERAS_STEPS_PER_EXECUTION = (1, 32, 1000)


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


def training_matrix(rows: int, n_features: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The pipeline's synthetic data, standardized and squared as stages 2–3 do, all rows used for training."""
    import pyarrow as pa

    from eagergraph.data.ingest import synthetic_batches
    from eagergraph.data.io import LABEL, feature_matrix

    table = pa.Table.from_batches(list(synthetic_batches(rows, n_features, seed)))
    raw = feature_matrix(table, [f"x{i}" for i in range(n_features)])
    z = (raw - raw.mean(axis=0)) / raw.std(axis=0)
    x = np.hstack([z, z**2]).astype(np.float32)
    return x, table.column(LABEL).to_numpy().astype(np.float32).reshape(-1, 1)


def _from_epochs(name: str, epoch_seconds: list[float], total: float, epochs: int, steps_per_epoch: int,
                 final_loss: float | None) -> Timing:
    steady_epoch = statistics.median(epoch_seconds[1:]) if len(epoch_seconds) > 1 else epoch_seconds[0]
    steady = steady_epoch * epochs
    trace = max(total - steady, 0.0)
    step_ms = steady_epoch / steps_per_epoch * 1000.0
    return Timing(name, trace, steady, trace + steady, 1000.0 / step_ms, step_ms, final_loss)


def time_ours(name: str, x: np.ndarray, y: np.ndarray, epochs: int, batch_size: int, hidden: int,
              learning_rate: float, seed: int, eager_max_steps: int) -> Timing:
    """Eager or one graph variant through the pipeline's own `train`."""
    from eagergraph.core.training import train

    steps = -(-len(x) // batch_size)
    if name == "eager" and steps * epochs > eager_max_steps:
        # Bounded: two short epochs on a prefix of the data; the step's cost does not depend on which rows.
        per_epoch = max(eager_max_steps // 2, 1)
        _, result = train(x[:per_epoch * batch_size], y[:per_epoch * batch_size], "eager", "step", 2, batch_size,
                          hidden, learning_rate, seed)
        step = result.epoch_seconds[1] / per_epoch
        return Timing(name, 0.0, step * steps * epochs, step * steps * epochs, 1.0 / step, step * 1000.0, None,
                      extrapolated=True, detail=f"extrapolated from {per_epoch} measured steps")
    mode, variant = ("eager", "step") if name == "eager" else ("graph", name)
    _, result = train(x, y, mode, variant, epochs, batch_size, hidden, learning_rate, seed)
    return _from_epochs(name, result.epoch_seconds, result.train_seconds, epochs, steps, result.history[-1]["loss"])


def time_keras_fit(x: np.ndarray, y: np.ndarray, epochs: int, batch_size: int, hidden: int, learning_rate: float,
                   seed: int, steps_per_execution: int) -> Timing:
    """The peer a user would pick instead: `model.compile(...)` + `model.fit`, same model, optimizer and seed."""
    import keras

    from eagergraph.core.training import build_model

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            seconds.append(time.perf_counter() - self.started)

    seconds: list[float] = []
    keras.utils.set_random_seed(seed)  # fit's shuffling is a random op, which op determinism requires seeded
    model = build_model(x.shape[1], hidden, seed)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=keras.losses.BinaryCrossentropy(),
                  steps_per_execution=steps_per_execution, jit_compile=False)
    started = time.perf_counter()
    history = model.fit(x, y, batch_size=batch_size, epochs=epochs, shuffle=True, verbose=0, callbacks=[EpochTimer()])
    total = time.perf_counter() - started
    steps = -(-len(x) // batch_size)
    timing = _from_epochs("keras_fit", seconds, total, epochs, steps, float(history.history["loss"][-1]))
    timing.detail = f"steps_per_execution={steps_per_execution}"
    return timing


def _median(timings: list[Timing]) -> Timing:
    """The repeat with the median steady-state time (keeps each row's figures from one real run)."""
    ordered = sorted(timings, key=lambda t: t.steady_seconds)
    return ordered[len(ordered) // 2]


def bench_size(rows: int, epochs: int, batch_size: int, hidden: int, learning_rate: float, seed: int,
               repeats: int, eager_max_steps: int, n_features: int = 10) -> dict[str, Timing]:
    """Every contender at one size, repeats interleaved so drift hits all alike; median per contender."""
    x, y = training_matrix(rows, n_features, seed)
    runs: dict[str, list[Timing]] = {name: [] for name in CONTENDERS}
    for _ in range(repeats):
        for name in CONTENDERS[:-1]:
            runs[name].append(time_ours(name, x, y, epochs, batch_size, hidden, learning_rate, seed, eager_max_steps))
        fits = [time_keras_fit(x, y, epochs, batch_size, hidden, learning_rate, seed, k) for k in KERAS_STEPS_PER_EXECUTION]
        runs["keras_fit"].append(min(fits, key=lambda t: t.steady_seconds))  # Keras at its best
    result = {name: _median(timings) for name, timings in runs.items()}
    eager, keras_fit = result["eager"], result["keras_fit"]
    for timing in result.values():
        timing.vs_eager = eager.steady_seconds / timing.steady_seconds
        timing.vs_eager_total = eager.total_seconds / timing.total_seconds
        timing.vs_keras_fit = keras_fit.steady_seconds / timing.steady_seconds
        timing.vs_keras_fit_total = keras_fit.total_seconds / timing.total_seconds
    return result


def break_even_steps(eager: Timing, graph: Timing) -> float | None:
    """Training steps after which a graph variant's one-time cost is paid back by its faster steps."""
    saved_per_step = (eager.median_step_ms - graph.median_step_ms) / 1000.0
    return graph.trace_seconds / saved_per_step if saved_per_step > 0 else None


def run_bench(sizes: list[int], epochs: int, batch_size: int, hidden: int, learning_rate: float, seed: int,
              repeats: int, eager_max_steps: int) -> dict:
    """The whole benchmark as a JSON-able dict (the `--json` line)."""
    import platform

    import tensorflow as tf

    report: dict = {"config": {"epochs": epochs, "batch_size": batch_size, "hidden": hidden, "learning_rate": learning_rate,
                               "seed": seed, "repeats": repeats, "eager_max_steps": eager_max_steps,
                               "tensorflow": tf.__version__, "cpus": _cpus(), "machine": platform.machine()},
                    "sizes": {}}
    for rows in sizes:
        timings = bench_size(rows, epochs, batch_size, hidden, learning_rate, seed, repeats, eager_max_steps)
        report["sizes"][str(rows)] = {name: asdict(t) for name, t in timings.items()}
        report["sizes"][str(rows)]["break_even_steps"] = {
            name: break_even_steps(timings["eager"], timings[name]) for name in ("step", "fused", "xla")}
    return report


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 0


def render(report: dict) -> list:
    """Rich tables, one per size, plus the pay-off lines."""
    from rich.table import Table

    out: list = []
    cfg = report["config"]
    for rows, timings in report["sizes"].items():
        table = Table(title=f"{rows} training rows, batch {cfg['batch_size']}, {cfg['epochs']} epochs "
                            f"(median of {cfg['repeats']})")
        for column in ("contender", "tracing s", "steady s", "total s", "steps/s", "median step ms",
                       "vs eager steady / total", "vs keras fit steady / total", "final loss"):
            table.add_column(column, justify="left" if column == "contender" else "right")
        for name in CONTENDERS:
            t = timings[name]
            label = name + (f" [{t['detail']}]" if t["detail"] else "")
            table.add_row(label, f"{t['trace_seconds']:.3f}", f"{t['steady_seconds']:.3f}", f"{t['total_seconds']:.3f}",
                          f"{t['steps_per_second']:.0f}", f"{t['median_step_ms']:.3f}",
                          f"{t['vs_eager']:.1f}x / {t['vs_eager_total']:.1f}x",
                          f"{t['vs_keras_fit']:.2f}x / {t['vs_keras_fit_total']:.2f}x",
                          "n/a (bounded)" if t["final_loss"] is None else f"{t['final_loss']:.4f}")
        out.append(table)
        pays = [f"{name} after {steps:,.0f} steps" for name, steps in timings["break_even_steps"].items() if steps is not None]
        out.append("graph execution pays for its one-time cost (tracing, compilation) after: " + "; ".join(pays))
    return out


def plot(report: dict, path: Path) -> Path:
    """A PNG of median step time per contender and size (log scale)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = list(report["sizes"])
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=120)
    width = 0.8 / len(sizes)
    for i, rows in enumerate(sizes):
        values = [report["sizes"][rows][name]["median_step_ms"] for name in CONTENDERS]
        bars = ax.bar(np.arange(len(CONTENDERS)) + i * width, values, width, label=f"{int(rows):,} rows")
        ax.bar_label(bars, labels=[f"{v:.2f}" for v in values], fontsize=7, padding=2)
    ax.set_xticks(np.arange(len(CONTENDERS)) + width * (len(sizes) - 1) / 2, CONTENDERS)
    ax.set_yscale("log")
    ax.set_ylabel("median step time, ms (log scale)")
    cfg = report["config"]
    ax.set_title(f"Training step time, batch {cfg['batch_size']}, TF {cfg['tensorflow']}, {cfg['cpus']} CPU cores")
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path

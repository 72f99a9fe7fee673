"""Small PNG charts for the Prefect UI: pure functions from metrics to PNG bytes, and the data: URI markdown.

The UI renders `![alt](data:image/png;base64,...)` in markdown artifacts (Prefect 3.9, checked in Chromium).
Images stay in the tens of kB: small figures at a screen resolution, no transparency.
"""

from __future__ import annotations

import base64
import io
from typing import Any

from eagergraph.text import mode_label

FIGSIZE = (7.0, 2.6)  # inches; at DPI below, about 500 × 190 pixels
DPI = 72
STYLES = {"eager": {"marker": "o", "linestyle": "-", "color": "tab:orange"},
          "graph": {"marker": "x", "linestyle": "--", "color": "tab:blue"}}


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # no display on servers and CI
    import matplotlib.pyplot as plt

    return plt


def _png(figure: Any, dpi: int = DPI) -> bytes:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=dpi)
    _pyplot().close(figure)
    return buffer.getvalue()


def data_uri_image(png: bytes, alt: str) -> str:
    """Markdown that shows a PNG inline, with no file or server behind it."""
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode('ascii')})"


def training_curves_png(histories: dict[str, list[dict[str, Any]]], variant: str | None = None, dpi: int = DPI) -> bytes:
    """Loss per epoch, and accuracy beside it where the histories have it (not regression), one line per mode
    (eager vs graph)."""
    from matplotlib.ticker import MaxNLocator

    plt = _pyplot()
    keys = ("loss", "accuracy") if any("accuracy" in e for h in histories.values() for e in h) else ("loss",)
    figure, axes = plt.subplots(1, len(keys), figsize=FIGSIZE, squeeze=False)
    axes = axes[0]
    for mode, history in histories.items():
        if not history:
            continue
        label = mode_label(mode, variant)
        epochs = [entry["epoch"] for entry in history]
        for axis, key in zip(axes, keys):
            axis.plot(epochs, [float(entry[key]) for entry in history], label=label, markersize=4, **STYLES.get(mode, {}))
    for axis, title in zip(axes, (f"training {key}" for key in keys)):
        axis.set_title(title, fontsize=10)
        axis.set_xlabel("epoch", fontsize=9)
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.tick_params(labelsize=8)
        axis.grid(True, alpha=0.3)
        axis.legend(fontsize=8)
    return _png(figure, dpi)


def step_times_png(metrics: dict[str, Any]) -> bytes:
    """Median step time per mode (log scale) and training seconds split into tracing and steady state."""
    plt = _pyplot()
    modes = [mode for mode in ("eager", "graph") if mode in metrics]
    labels = [mode_label(m, metrics.get("graph_variant")) for m in modes]
    figure, (steps, seconds) = plt.subplots(1, 2, figsize=FIGSIZE)
    values = [float(metrics[m]["median_step_ms"]) for m in modes]
    bars = steps.barh(labels, values, color=[STYLES[m]["color"] for m in modes])
    steps.bar_label(bars, labels=[f"{v:.3g} ms" for v in values], fontsize=8, padding=2)
    steps.set_xscale("log")
    steps.set_title("median training step (log scale)", fontsize=10)
    steady = [float(metrics[m].get("steady_seconds") or metrics[m]["train_seconds"]) for m in modes]
    trace = [float(metrics[m].get("trace_seconds") or 0.0) for m in modes]
    seconds.barh(labels, trace, color="tab:gray", label="tracing")
    done = seconds.barh(labels, steady, left=trace, color=[STYLES[m]["color"] for m in modes], label="steady state")
    seconds.bar_label(done, labels=[f"{t + s:.2f} s" for t, s in zip(trace, steady)], fontsize=8, padding=2)
    seconds.set_title("training time", fontsize=10)
    seconds.legend(fontsize=8, loc="upper right")
    for axis in (steps, seconds):
        axis.tick_params(labelsize=8)
        axis.margins(x=0.25)
    return _png(figure)


def ranking_png(ranking: list[dict[str, Any]], name: str = "auc") -> bytes:
    """A sweep's candidates, best first: one test metric (a catalogue name) per candidate."""
    from eagergraph.metrics import metric

    shown_metric = metric(name)
    plt = _pyplot()
    shown = ranking[:20]  # a long grid keeps its table; the chart shows the top
    names = [str(r["name"]) for r in shown][::-1]
    values = [float(r[name]) for r in shown][::-1]
    figure, axis = plt.subplots(figsize=(FIGSIZE[0], max(1.6, 0.3 * len(shown) + 0.8)))
    bars = axis.barh(names, values, color="tab:blue")
    axis.bar_label(bars, labels=[shown_metric.show(v) for v in values], fontsize=8, padding=2)
    if shown_metric.higher_is_better and max(values) <= 1.0:  # a score in [0, 1]: zoom on the candidates' range
        axis.set_xlim(max(0.0, min(values) - 0.05), 1.0)
    else:
        axis.margins(x=0.25)
    axis.set_title(f"sweep: test {shown_metric.label} per candidate, best on top", fontsize=10)
    axis.tick_params(labelsize=7)
    return _png(figure)


def confusion_png(labels: list[str], matrix: list[list[int]]) -> bytes:
    """A multiclass confusion matrix as a small heat map with its counts: rows true classes, columns predicted."""
    plt = _pyplot()
    size = min(7.0, 2.2 + 0.45 * len(labels))
    figure, axis = plt.subplots(figsize=(size, size * 0.8))
    axis.imshow(matrix, cmap="Blues")
    top = max((max(row) for row in matrix), default=0)
    for i, row in enumerate(matrix):
        for j, count in enumerate(row):
            axis.text(j, i, str(count), ha="center", va="center", fontsize=8,
                      color="white" if top and count > top / 2 else "black")
    axis.set_xticks(range(len(labels)), labels, fontsize=7, rotation=45 if len(labels) > 6 else 0)
    axis.set_yticks(range(len(labels)), labels, fontsize=7)
    axis.set_xlabel("predicted", fontsize=8)
    axis.set_ylabel("true class", fontsize=8)
    axis.set_title("confusion matrix (test split)", fontsize=10)
    return _png(figure)


def bench_png(report: dict[str, Any], contenders: tuple[str, ...], dpi: int = DPI) -> bytes:
    """`eagergraph bench`: median step time per contender and size (log scale)."""
    import numpy as np

    plt = _pyplot()
    sizes = list(report["sizes"])
    figure, axis = plt.subplots(figsize=(FIGSIZE[0], 3.0))
    width = 0.8 / len(sizes)
    for i, rows in enumerate(sizes):
        values = [report["sizes"][rows][name]["median_step_ms"] for name in contenders]
        bars = axis.bar(np.arange(len(contenders)) + i * width, values, width, label=f"{int(rows):,} rows")
        axis.bar_label(bars, labels=[f"{v:.3g}" for v in values], fontsize=7, padding=2)
    axis.set_xticks(np.arange(len(contenders)) + width * (len(sizes) - 1) / 2, contenders)
    axis.set_yscale("log")
    axis.set_ylabel("median step, ms", fontsize=8)
    cfg = report["config"]
    axis.set_title(f"training step time per contender, batch {cfg['batch_size']}, TF {cfg['tensorflow']}, "
                   f"{cfg['cpus']} CPU cores (log scale)", fontsize=9)
    axis.tick_params(labelsize=8)
    axis.legend(fontsize=8)
    return _png(figure, dpi)

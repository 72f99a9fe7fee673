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
    """Loss and accuracy per epoch, one line per mode (eager vs graph), side by side."""
    from matplotlib.ticker import MaxNLocator

    plt = _pyplot()
    figure, axes = plt.subplots(1, 2, figsize=FIGSIZE)
    for mode, history in histories.items():
        if not history:
            continue
        label = mode_label(mode, variant)
        epochs = [entry["epoch"] for entry in history]
        for axis, key in zip(axes, ("loss", "accuracy")):
            axis.plot(epochs, [float(entry.get(key, "nan")) for entry in history], label=label, markersize=4, **STYLES.get(mode, {}))
    for axis, title in zip(axes, ("training loss", "training accuracy")):
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


def ranking_png(ranking: list[dict[str, Any]]) -> bytes:
    """A sweep's candidates, best first: test AUC and accuracy per candidate."""
    plt = _pyplot()
    shown = ranking[:20]  # a long grid keeps its table; the chart shows the top
    names = [str(r["name"]) for r in shown][::-1]
    figure, axis = plt.subplots(figsize=(FIGSIZE[0], max(1.6, 0.3 * len(shown) + 0.8)))
    key = next(k for k in ("auc", "macro_auc", "rmse") if k in shown[0])  # the task's first ranking metric
    auc = axis.barh(names, [float(r[key]) for r in shown][::-1], color="tab:blue")
    axis.bar_label(auc, labels=[f"{float(r[key]):.4f}" for r in shown][::-1], fontsize=8, padding=2)
    if key != "rmse":
        axis.set_xlim(max(0.0, min(float(r[key]) for r in shown) - 0.05), 1.0)
    axis.set_title(f"sweep: test {key} per candidate, best on top", fontsize=10)
    axis.tick_params(labelsize=7)
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

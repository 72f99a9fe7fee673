"""Prefect artifacts of a run: pure builders of tables and markdown, and thin calls that publish them.

Keys are stable across runs (lowercase letters, digits and dashes), so the UI's Artifacts page shows each one
with its history of versions, one per run.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from eagergraph.core.variants import MODES

KEY_PREFIX = "eagergraph"
CHART_HEIGHT = 10  # rows of the text loss chart
CHART_WIDTH = 60  # at most this many epochs are drawn; longer trainings are sampled evenly


def artifact_key(*parts: str) -> str:
    """A key Prefect accepts: lowercase letters, digits and dashes only."""
    return re.sub(r"-+", "-", re.sub(r"[^a-z0-9-]", "-", "-".join((KEY_PREFIX, *parts)).lower())).strip("-")


def trace_rows(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The training trace as table rows: epoch, loss, accuracy (and seconds when known)."""
    rows = []
    for entry in history:
        row = {"epoch": entry["epoch"], "loss": round(float(entry["loss"]), 6), "accuracy": round(float(entry["accuracy"]), 6)}
        if "seconds" in entry:
            row["seconds"] = round(float(entry["seconds"]), 4)
        rows.append(row)
    return rows


def loss_chart(histories: dict[str, list[dict[str, Any]]]) -> str:
    """Training loss per epoch of both modes as a text chart (`e` eager, `g` graph, `*` both on one cell).

    Text, because the Prefect UI renders markdown tables and code blocks but not `data:` URI images.
    """
    series = {mode: [float(e["loss"]) for e in history] for mode, history in histories.items() if history}
    if not series:
        return "(no training history)"
    epochs = max(len(values) for values in series.values())
    columns = sorted({round(i * (epochs - 1) / max(CHART_WIDTH - 1, 1)) for i in range(CHART_WIDTH)}) if epochs > CHART_WIDTH else list(range(epochs))
    low = min(min(values) for values in series.values())
    high = max(max(values) for values in series.values())
    span = (high - low) or 1.0
    grid = [[" "] * len(columns) for _ in range(CHART_HEIGHT)]
    for mode, values in series.items():
        mark = mode[0]
        for x, epoch in enumerate(columns):
            if epoch >= len(values):
                continue
            y = CHART_HEIGHT - 1 - round((values[epoch] - low) / span * (CHART_HEIGHT - 1))
            grid[y][x] = mark if grid[y][x] in (" ", mark) else "*"
    labels = [f"{high - i * span / (CHART_HEIGHT - 1):8.4f}" for i in range(CHART_HEIGHT)]
    lines = [f"{label} |{''.join(row)}" for label, row in zip(labels, grid)]
    lines.append(" " * 9 + "+" + "-" * len(columns))
    lines.append(" " * 10 + f"epoch 1 .. {epochs}   (e = eager, g = graph, * = both)")
    return "\n".join(lines)


def evaluation_markdown(metrics: dict[str, Any], prediction: dict[str, Any] | None, run_dir: str | Path) -> str:
    """The evaluation of both modes side by side, speedup, parity, the example prediction and the loss chart."""
    names = [("loss", "test loss", ".4f"), ("accuracy", "test accuracy", ".4f"), ("auc", "AUC", ".4f"),
             ("precision", "precision", ".4f"), ("recall", "recall", ".4f"), ("train_seconds", "train seconds", ".3f"),
             ("trace_seconds", "tracing seconds", ".3f"), ("steady_seconds", "steady seconds", ".3f"),
             ("median_step_ms", "median step ms", ".3f")]
    modes = [mode for mode in MODES if mode in metrics]  # one mode only when the run trained one (--modes)
    headers = [mode if mode == "eager" else f"graph ({metrics.get('graph_variant') or 'graph'})" for mode in modes]
    lines = ["# eagergraph evaluation", "", f"Run directory: `{run_dir}`", "",
             "| metric | " + " | ".join(headers) + " |", "|---|" + "---:|" * len(modes)]
    for key, label, fmt in names:
        if all(metrics[mode].get(key) is not None for mode in modes):
            lines.append(f"| {label} | " + " | ".join(f"{metrics[mode][key]:{fmt}}" for mode in modes) + " |")
    comparisons = [("speedup", "speedup (tracing included)", ".2f", "x"), ("steady_speedup", "steady-state speedup", ".2f", "x"),
                   ("parity_max_abs_diff", "parity: max abs diff of test predictions", ".2e", ""),
                   ("weights_max_abs_diff", "max abs diff of trained weights", ".2e", "")]
    rows = [f"| {label} | {metrics[key]:{fmt}}{unit} |" for key, label, fmt, unit in comparisons if metrics.get(key) is not None]
    if rows:
        lines += ["", "| comparison | value |", "|---|---:|", *rows]
    if prediction:
        lines += ["", "## Prediction (graph model reloaded from disk)", "", "| field | value |", "|---|---|"]
        lines += [f"| {key} | {_cell(value)} |" for key, value in prediction.items()]
    lines += ["", "## Training loss per epoch", "", "```",
              loss_chart({mode: metrics[mode].get("history", []) for mode in MODES if mode in metrics}), "```"]
    return "\n".join(lines) + "\n"


def run_directory_markdown(run_dir: str | Path) -> str:
    """Where the run's files are, and how to look at them."""
    root = Path(run_dir).resolve()
    return (f"# Run directory\n\n`{root}`\n\n"
            f"- metrics: `{root / 'metrics.json'}`\n- manifest: `{root / 'manifest.json'}`\n"
            f"- models: `{root / 'models'}`\n- training curves: `{root / 'training_curves.png'}`\n\n"
            f"```\ntensorboard --logdir {root / 'tensorboard'}\n```\n")


def _cell(value: Any) -> str:
    text = ", ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in value) if isinstance(value, list) else (
        f"{value:.6g}" if isinstance(value, float) else str(value))
    return text.replace("|", "\\|")


# ---------------------------------------------------------------- thin calls into Prefect


def publish_trace(mode: str, history: list[dict[str, Any]]) -> None:
    """Table artifact of one mode's training trace."""
    from prefect.artifacts import create_table_artifact

    create_table_artifact(trace_rows(history), key=artifact_key("trace", mode),
                          description=f"Training trace of the {mode} model: loss and accuracy per epoch.")


def publish_run_report(run_dir: str | Path, metrics: dict[str, Any], prediction: dict[str, Any] | None) -> None:
    """Markdown artifacts of the finished run: the evaluation side by side, and the run directory."""
    from prefect.artifacts import create_markdown_artifact

    create_markdown_artifact(evaluation_markdown(metrics, prediction, run_dir), key=artifact_key("evaluation"),
                             description="Eager vs graph: test metrics, speedup, parity, a prediction, the loss curve.")
    create_markdown_artifact(run_directory_markdown(run_dir), key=artifact_key("run-directory"),
                             description="Where this run's files are.")

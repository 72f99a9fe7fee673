"""Prefect artifacts of a run: pure builders of tables and markdown, and thin calls that publish them.

Keys are stable across runs (lowercase letters, digits and dashes), so the UI's Artifacts page shows each one
with its history of versions, one per run.
"""

from __future__ import annotations

import re
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from eagergraph.auc import KEY_CAP
from eagergraph.metrics import (
    AUC_MAX_ERROR,
    DEFAULT_TASK,
    GATE_DEFAULT,
    Metric,
    Task,
    metric,
    metrics_for,
    served_metrics,
    task_of,
)
from eagergraph.modes import MODES
from eagergraph.reporting.promotion import verdict_markdown
from eagergraph.text import mode_label, plural

KEY_PREFIX = "eagergraph"


def artifact_key(*parts: str) -> str:
    """A key Prefect accepts: lowercase letters, digits and dashes only."""
    return re.sub(r"-+", "-", re.sub(r"[^a-z0-9-]", "-", "-".join((KEY_PREFIX, *parts)).lower())).strip("-")


def trace_keys(metrics: dict[str, Any]) -> tuple[str, ...]:
    """What the training histories hold per epoch: loss, and accuracy where they have it (not regression)."""
    histories = [metrics[mode].get("history") or [] for mode in MODES if mode in metrics]
    has_accuracy = any("accuracy" in entry for history in histories for entry in history)
    return ("loss", "accuracy") if has_accuracy else ("loss",)


def confusion_of(metrics: dict[str, Any]) -> tuple[list[str], list[list[int]] | None]:
    """The class labels and the served model's confusion matrix of a multiclass run (None otherwise)."""
    matrix = served_metrics(metrics).get("confusion_matrix")
    if matrix is None:
        return [], None
    classes = [str(c) for c in metrics.get("classes") or []]
    return (classes if len(classes) == len(matrix) else [str(i) for i in range(len(matrix))]), matrix


def ranked_metrics(ranking: list[dict[str, Any]], task: Task) -> list[Metric]:
    """The task's catalogue metrics a sweep ranking holds, in catalogue order."""
    return [m for m in metrics_for(task) if any(m.name in r for r in ranking)]


def trace_rows(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The training trace as table rows: epoch, loss, accuracy where the history has it (and seconds when known)."""
    rows = []
    for entry in history:
        row = {"epoch": entry["epoch"], "loss": round(float(entry["loss"]), 6)}
        if "accuracy" in entry:
            row["accuracy"] = round(float(entry["accuracy"]), 6)
        if "seconds" in entry:
            row["seconds"] = round(float(entry["seconds"]), 4)
        rows.append(row)
    return rows


def auc_bound_line(metrics: dict[str, Any]) -> str | None:
    """What a run says when its AUC came from binned scores (more than KEY_CAP distinct ones): how far from the
    exact value it can be, per mode. None when every AUC is exact (0.0), as nearly always."""
    bounds = {mode: metrics[mode].get(AUC_MAX_ERROR) or 0.0 for mode in MODES if mode in metrics}
    if not any(bound > 0 for bound in bounds.values()):
        return None
    variant = metrics.get("graph_variant")
    within = ", ".join(f"{mode_label(mode, variant)} ±{bound:.1e}" for mode, bound in bounds.items())
    return (f"test {metric(GATE_DEFAULT[task_of(metrics)]).label}: more than {KEY_CAP:,} distinct scores, binned; "
            f"within {within} of the exact value")


def step_parity_line(metrics: dict[str, Any]) -> str | None:
    """Step parity in words: one step from the same weights, optimizer state and first batch, eager vs the variant."""
    step = metrics.get("step_parity")
    if step is None:
        return None
    return (f"step parity {step:.2e}: max |eager − graph ({metrics.get('graph_variant')})| of the weights after one step "
            "from the same weights, optimizer state and first batch")


def drift_epoch_text(metrics: dict[str, Any]) -> str | None:
    """Where the end-of-epoch weights first differed by more than 1e-4, or that they never did."""
    if metrics.get("parity_epoch_max_abs_diff") is None:
        return None
    epoch = metrics.get("parity_drift_epoch")
    return f"from epoch {epoch}" if epoch is not None else "never (every epoch within 1e-4)"


def evaluation_markdown(metrics: dict[str, Any], prediction: dict[str, Any] | None, run_dir: str | Path,
                        charts: dict[str, str] | None = None) -> str:
    """The evaluation of both modes side by side, speedup, parity, the example prediction, and the charts
    (section title → markdown image) after the tables they illustrate."""
    scored = [(m.name, f"test {m.label}", m.format) for m in metrics_for(task_of(metrics))]
    names = [*scored, ("train_seconds", "train seconds", ".3f"), ("trace_seconds", "tracing seconds", ".3f"),
             ("steady_seconds", "steady seconds", ".3f"), ("median_step_ms", "median step ms", ".3f")]
    modes = [mode for mode in MODES if mode in metrics]  # one mode only when the run trained one (--modes)
    headers = [mode_label(mode, metrics.get("graph_variant")) for mode in modes]
    lines = ["# eagergraph evaluation", "", f"Run directory: `{Path(run_dir).resolve()}`", ""]
    if metrics.get("positive_class") is not None and task_of(metrics) == "binary":
        lines += [f"Positive class: `{metrics['positive_class']}` (classes: "
                  f"{', '.join(f'`{c}`' for c in metrics.get('classes', []))}); precision, recall and the predicted "
                  "probability are about it.", ""]
    lines += ["| metric | " + " | ".join(headers) + " |", "|---|" + "---:|" * len(modes)]
    for key, label, fmt in names:
        if all(metrics[mode].get(key) is not None for mode in modes):
            lines.append(f"| {label} | " + " | ".join(f"{metrics[mode][key]:{fmt}}" for mode in modes) + " |")
    comparisons = [("speedup", "speedup (tracing included)", ".2f", "x"), ("steady_speedup", "steady-state speedup", ".2f", "x"),
                   ("parity_max_abs_diff", "parity: max abs diff of test predictions", ".2e", ""),
                   ("weights_max_abs_diff", "max abs diff of trained weights", ".2e", "")]
    rows = [f"| {label} | {metrics[key]:{fmt}}{unit} |" for key, label, fmt, unit in comparisons if metrics.get(key) is not None]
    drift = drift_epoch_text(metrics)
    if drift:
        rows.append(f"| weights differ by more than 1e-4 | {drift} |")
    if metrics.get("step_parity") is not None:
        rows.append(f"| step parity: max abs diff of weights after one step from the same state | {metrics['step_parity']:.2e} |")
    bound = auc_bound_line(metrics)
    if bound:
        lines += ["", f"*{bound}*"]
    if rows:
        lines += ["", "| comparison | value |", "|---|---:|", *rows]
    if metrics.get("parity_note"):
        lines += ["", f"**Parity:** {metrics['parity_note']}"]
    labels, matrix = confusion_of(metrics)
    if matrix is not None:
        lines += ["", "## Confusion matrix (test split; rows: true class, columns: predicted)", "",
                  "| true class | " + " | ".join(_cell(label) for label in labels) + " |", "|---|" + "---:|" * len(labels)]
        lines += [f"| {_cell(label)} | " + " | ".join(str(count) for count in row) + " |" for label, row in zip(labels, matrix)]
    if prediction:
        lines += ["", "## Prediction (graph model reloaded from disk)", "", "| field | value |", "|---|---|"]
        lines += [f"| {key} | {_cell(value)} |" for key, value in prediction.items()]
    lines += verdict_markdown(metrics)
    for title, image in (charts or {}).items():
        lines += ["", f"## {title}", "", image]
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


def run_charts(metrics: dict[str, Any]) -> dict[str, str]:
    """The evaluation's charts as inline markdown images: training curves, step times of the modes, and a multiclass
    run's confusion matrix."""
    from eagergraph.reporting.charts import confusion_png, data_uri_image, step_times_png, training_curves_png

    histories = {mode: metrics[mode].get("history", []) for mode in MODES if mode in metrics}
    charts = {"Training curves (train split)": data_uri_image(training_curves_png(histories, metrics.get("graph_variant")),
                                                              "training curves"),
              "Step time, eager vs graph": data_uri_image(step_times_png(metrics), "step times")}
    labels, matrix = confusion_of(metrics)
    if matrix is not None:
        charts["Confusion matrix image (test split)"] = data_uri_image(confusion_png(labels, matrix), "confusion matrix")
    return charts


def ranking_markdown(ranking: list[dict[str, Any]], task: Task = DEFAULT_TASK) -> str:
    """A sweep's ranking: the chart (of the task's gate metric), then the table (the task's catalogue metrics)."""
    from eagergraph.reporting.charts import data_uri_image, ranking_png

    keys = ("rank", "name", "learning_rate", "hidden", "batch_size", "variant",
            *(m.name for m in ranked_metrics(ranking, task)), "train_seconds")
    lines = ["# eagergraph sweep ranking", "", data_uri_image(ranking_png(ranking, GATE_DEFAULT[task]), "sweep ranking"), "",
             "| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(_cell(r.get(k, "–")) for k in keys) + " |" for r in ranking]
    return "\n".join(lines) + "\n"


def bench_markdown(report: dict[str, Any], contenders: tuple[str, ...]) -> str:
    """`eagergraph bench`: the chart, then median step time (ms) per contender and size."""
    from eagergraph.reporting.charts import bench_png, data_uri_image

    sizes = list(report["sizes"])
    lines = ["# eagergraph bench", "", data_uri_image(bench_png(report, contenders), "step times"), "",
             "| contender | " + " | ".join(f"{int(rows):,} rows, ms/step" for rows in sizes) + " |",
             "|---|" + "---:|" * len(sizes)]
    lines += [f"| {name} | " + " | ".join(f"{report['sizes'][rows][name]['median_step_ms']:.4f}" for rows in sizes) + " |"
              for name in contenders]
    config = ", ".join(f"{key} {value}" for key, value in report.get("config", {}).items())
    return "\n".join(lines + ["", f"Config: {config}"]) + "\n"


# ---------------------------------------------------------------- thin calls into Prefect


def publish_trace(mode: str, history: list[dict[str, Any]]) -> None:
    """Table artifact of one mode's training trace."""
    from prefect.artifacts import create_table_artifact

    create_table_artifact(trace_rows(history), key=artifact_key("trace", mode),
                          description=f"Training trace of the {mode} model: loss and accuracy per epoch.")


def charts_in_background(metrics: dict[str, Any]) -> Future[dict[str, str]]:
    """`run_charts` on a thread of its own, begun as soon as the metrics are known (after the gate): matplotlib's
    second or more of drawing then overlaps predict, which runs in TensorFlow outside Python's lock, instead of
    adding to the run's end. Only this thread draws meanwhile (pyplot is not shared across threads)."""
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="run-charts")
    drawing = pool.submit(run_charts, metrics)
    pool.shutdown(wait=False)  # the thread ends with its one job
    return drawing


def publish_run_report(run_dir: str | Path, metrics: dict[str, Any], prediction: dict[str, Any] | None,
                       charts: dict[str, str] | None = None) -> None:
    """Markdown artifacts of the finished run: the evaluation side by side (with `charts`, drawn here when not
    given), and the run directory."""
    from prefect.artifacts import create_markdown_artifact

    charts = run_charts(metrics) if charts is None else charts
    create_markdown_artifact(evaluation_markdown(metrics, prediction, run_dir, charts),
                             key=artifact_key("evaluation"),
                             description="Eager vs graph: test metrics, speedup, parity, a prediction, training curves "
                                         "and step times.")
    create_markdown_artifact(run_directory_markdown(run_dir), key=artifact_key("run-directory"),
                             description="Where this run's files are.")


def publish_ranking(ranking: list[dict[str, Any]], task: Task = DEFAULT_TASK) -> None:
    """Markdown artifact of a sweep's ranking, chart first."""
    from prefect.artifacts import create_markdown_artifact

    create_markdown_artifact(ranking_markdown(ranking, task), key=artifact_key("sweep-ranking-chart"),
                             description=f"eagergraph sweep: {plural(len(ranking), 'candidate')}, "
                                         f"test {metric(GATE_DEFAULT[task]).label} chart and table.")


def publish_bench(report: dict[str, Any], contenders: tuple[str, ...]) -> str:
    """`eagergraph bench --publish`: its table and chart as a markdown artifact outside any flow run; its id."""
    import warnings

    from prefect.artifacts import create_markdown_artifact

    with warnings.catch_warnings():  # outside a run on purpose: a benchmark is not a flow run
        warnings.simplefilter("ignore", FutureWarning)
        return str(create_markdown_artifact(bench_markdown(report, contenders), key=artifact_key("bench"),
                                            description="eagergraph bench: median step time per contender and size."))

"""Issue 17, presentation: every table takes its metric columns from the catalogue for the run's task; multiclass
shows its confusion matrix (terminal table, PNG in the evaluation artifact); regression curves have no accuracy."""

from __future__ import annotations

import base64
import io

from rich.console import Console

from eagergraph.metrics import metrics_for
from eagergraph.reporting.artifacts import charts_in_background, evaluation_markdown, run_charts
from eagergraph.reporting.charts import confusion_png
from eagergraph.reporting.promotion import runs_table, verdict_markdown
from eagergraph.reporting.terminal import confusion_table, evaluation_table, trace_table

PNG = b"\x89PNG\r\n\x1a\n"
CLASSES = ["Adelie", "Chinstrap", "Gentoo"]
MATRIX = [[20, 1, 0], [0, 12, 1], [0, 0, 26]]
TIMES = {"train_seconds": 1.0, "trace_seconds": 0.5, "steady_seconds": 0.5, "median_step_ms": 1.0}


def _run(task: str, **mode: object) -> dict:
    history = [{"epoch": 1, "loss": 0.5, **({"accuracy": 0.8} if task != "regression" else {})}]
    scored = {m.name: 0.5 + i / 100 for i, m in enumerate(metrics_for(task))}
    return {"task": task, "classes": CLASSES if task == "multiclass" else [], "test_rows": 59, "graph_variant": "fused",
            "graph": {**scored, **TIMES, "history": history, **mode}}


def _text(*renderables: object) -> str:
    console = Console(file=io.StringIO(), width=300, record=True)
    for renderable in renderables:
        console.print(renderable)
    return console.export_text()


def test_the_evaluation_shows_each_tasks_catalogue_metrics_with_their_labels() -> None:
    for task in ("binary", "multiclass", "regression"):
        run = _run(task)
        text, markdown = _text(evaluation_table(run)), evaluation_markdown(run, None, "run")
        for m in metrics_for(task):
            assert m.label in text and m.show(run["graph"][m.name]) in text
            assert f"| test {m.label} | {m.show(run['graph'][m.name])} |" in markdown
        others = {m.label for t in ("binary", "multiclass", "regression") for m in metrics_for(t)} - {
            m.label for m in metrics_for(task)}
        assert not any(f"│ {label} " in text for label in others), task


def test_an_auc_from_binned_scores_says_its_bound_and_an_exact_one_says_nothing() -> None:
    from eagergraph.reporting.artifacts import auc_bound_line

    exact, binned = _run("binary", auc_max_error=0.0), _run("multiclass", auc_max_error=3.2e-07)
    assert auc_bound_line(exact) is None and auc_bound_line(_run("regression")) is None
    assert "distinct scores" not in evaluation_markdown(exact, None, "run")
    line = auc_bound_line(binned)
    assert line is not None and line.startswith("test macro AUC (one-vs-rest): more than 2,097,152 distinct scores")
    assert "graph (fused) ±3.2e-07 of the exact value" in line and line in evaluation_markdown(binned, None, "run")


def test_multiclass_shows_its_confusion_matrix_as_a_table_and_an_image() -> None:
    run = _run("multiclass", confusion_matrix=MATRIX)
    text = _text(confusion_table(run))
    cells = [[cell.strip() for cell in line.split("│")[1:-1]] for line in text.splitlines() if line.startswith("│")]
    assert cells == [[name, *map(str, row)] for name, row in zip(CLASSES, MATRIX)]
    charts = run_charts(run)  # rendered once: the markdown and the image below are the same charts
    markdown = evaluation_markdown(run, None, "run", charts)
    assert "| Gentoo | 0 | 0 | 26 |" in markdown and "![confusion matrix](data:image/png;base64," in markdown
    png = confusion_png(CLASSES, MATRIX)
    assert png.startswith(PNG) and 2_000 < len(png) < 80_000
    binary = run_charts(_run("binary"))
    assert confusion_table(_run("binary")) is None and not any("confusion matrix" in chart.lower() for chart in binary)
    assert not any("confusion matrix" in image for image in binary.values())
    image = charts["Confusion matrix image (test split)"]
    assert base64.b64decode(image.split(",", 1)[1].rstrip(")")).startswith(PNG)


def test_charts_drawn_in_the_background_are_the_run_report_s_charts() -> None:
    run = _run("multiclass", confusion_matrix=MATRIX)
    charts = charts_in_background(run).result(timeout=60)
    assert charts == run_charts(run) and len(charts) == 3  # the same images, byte for byte


def test_regression_traces_show_loss_only() -> None:
    text = _text(trace_table(_run("regression")))
    assert "graph loss" in text and "accuracy" not in text
    assert "graph accuracy" in _text(trace_table(_run("multiclass")))


RUN_ROWS = [
    {"run": "20261207T104303294498Z-041fb3", "when": "2026-12-07T10:43:03+00:00", "model_name": "mpg",
     "task": "regression", "data": "/home/someone/projects/tables/data/mpg.csv", "rows": 398, "rmse": 3.25, "r2": 0.81,
     "gate_metric": "rmse", "speedup": 2.0, "variant": "fused", "verdict": "promoted (manual)", "production": True,
     "flow_run_id": "01a25018-b015-7ead-93fa-194428a9db7f"},
    {"run": "20261207T104011000001Z-0a0b0c", "when": None, "model_name": "penguins-with-a-rather-long-model-name",
     "task": "multiclass", "data": "p.csv", "rows": 1_234_567, "macro_auc": 0.99, "gate_metric": "macro_auc",
     "speedup": None, "variant": None, "verdict": None, "production": False, "flow_run_id": None},
]


def _natural(table: object) -> list[str]:
    """The table as `runs` prints it piped: at its natural width (the console is far wider)."""
    console = Console(file=io.StringIO(), width=10_000, record=True)
    console.print(table)
    return [line.rstrip() for line in console.export_text().splitlines() if line.strip()]


def test_runs_table_fits_120_columns_with_the_gate_metric_and_verdict() -> None:
    lines = _natural(runs_table(RUN_ROWS))
    assert max(map(len, lines)) <= 120, "\n".join(lines)
    text = "\n".join(lines)
    assert "* 20261207T104303294498Z-041fb3" in text and "20261207T104011000001Z-0a0b0c" in text  # whole run ids
    assert "rmse 3.2500" in text and "macro_auc 0.9900" in text and "promoted (manual)" in text
    assert "1,234,567" in text and "penguins-with-a-r…" in text  # a long model name is cut, not wrapped
    assert "mpg.csv" not in text and "01a25018" not in text and "fused" not in text  # those are for --wide


def test_wide_runs_table_has_every_column_and_the_tasks_metrics() -> None:
    lines = _natural(runs_table(RUN_ROWS, wide=True))
    assert max(map(len, lines)) > 120  # everything, at its natural width
    text = "\n".join(lines)
    assert "model" in text and "mpg" in text and "penguins-with-a-rather-long-model-name" in text
    assert "RMSE" in text and "3.2500" in text and "macro AUC" in text and "0.9900" in text
    assert "/home/someone/projects/tables/data/mpg.csv" in text and "fused" in text and "2026-12-07T10:43:03" in text
    assert "precision" not in text  # no binary run among the rows


def test_the_gate_table_names_metrics_by_their_labels() -> None:
    gate = {"promoted": False, "reason": "worse", "metric": "rmse", "candidate": {"rmse": 3.41, "r2": 0.7},
            "production": {"rmse": 2.9, "r2": 0.8}}
    lines = verdict_markdown({"gate": gate})
    assert "| RMSE (gate) | 3.4100 | 2.9000 |" in lines and "| R² | 0.7000 | 0.8000 |" in lines

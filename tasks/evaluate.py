"""evaluate: the Prefect task over eagergraph.core.evaluation."""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task

from eagergraph.core.evaluation import evaluate_run
from eagergraph.metrics import GATE_DEFAULT, metric, task_of
from eagergraph.modes import MODES


@task(name="evaluate")
def evaluate(run_dir: str) -> dict:
    """Compare the eager and the graph model on the test split; write metrics.json."""
    from eagergraph.reporting.monitor import plot_training_curves

    report = evaluate_run(Path(run_dir))
    plot_training_curves(run_dir, report)
    headline = metric(GATE_DEFAULT["regression"] if task_of(report) == "regression" else "accuracy")
    accuracy = " / ".join(f"{mode} {headline.show(report[mode][headline.name])}" for mode in MODES if mode in report)
    comparison = "" if report["speedup"] is None else f"; speedup {report['speedup']:.1f}x"
    if report["parity_max_abs_diff"] is not None:
        comparison += f"; parity max |diff| {report['parity_max_abs_diff']:.2e}"
    get_run_logger().info(f"test {headline.label} {accuracy}{comparison}")
    return report

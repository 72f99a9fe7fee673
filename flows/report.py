"""What `eagergraph run` prints: the training trace of both modes, the evaluation side by side, the prediction."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

METRICS = ("loss", "accuracy", "auc", "precision", "recall", "train_seconds", "trace_seconds", "median_step_ms")


def trace_table(metrics: dict) -> Table:
    table = Table(title="Training trace (train split)")
    table.add_column("epoch", justify="right")
    for mode in ("eager", "graph"):
        table.add_column(f"{mode} loss", justify="right")
        table.add_column(f"{mode} accuracy", justify="right")
    for eager, graph in zip(metrics["eager"]["history"], metrics["graph"]["history"]):
        table.add_row(str(eager["epoch"]), f"{eager['loss']:.4f}", f"{eager['accuracy']:.4f}",
                      f"{graph['loss']:.4f}", f"{graph['accuracy']:.4f}")
    return table


def evaluation_table(metrics: dict) -> Table:
    table = Table(title=f"Evaluation on {metrics['test_rows']} test rows")
    table.add_column("metric")
    table.add_column("eager", justify="right")
    table.add_column(f"graph ({metrics['graph_variant']})", justify="right")
    for name in METRICS:
        table.add_row(name, f"{metrics['eager'][name]:.4f}", f"{metrics['graph'][name]:.4f}")
    return table


def print_run(result: dict, console: Console | None = None) -> None:
    """Render a finished run for the terminal (stdout)."""
    console = console or Console()
    metrics = result["metrics"]
    console.print(trace_table(metrics))
    console.print(evaluation_table(metrics))
    console.print(f"speedup (eager / graph training time, tracing included): [bold]{metrics['speedup']:.1f}x[/bold]; "
                  f"steady state {metrics['steady_speedup']:.1f}x")
    console.print(f"parity: max |eager − graph| on test predictions {metrics['parity_max_abs_diff']:.2e}, "
                  f"on weights {metrics['weights_max_abs_diff']:.2e}")
    if result.get("dropped_rows"):
        counts = ", ".join(f"{name}: {count}" for name, count in result["invalid_values"].items())
        console.print(f"--drop-invalid: dropped {result['dropped_rows']} rows with missing, NaN or infinite values ({counts})")
    example = result["prediction"]
    console.print(f"prediction (graph SavedModel reloaded from disk): 1 row → [{example['probability']:.2f}] "
                  f"class {example['predicted']}")
    console.print(f"run directory: {result['run_dir']}")

"""`eagergraph bench` (training step times) and `eagergraph bench-data` (data-stage throughput)."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from eagergraph.cli.common import app, checked, prepare_environment, use_server
from eagergraph.cli.options import parse_numbers, with_config_options
from eagergraph.cli.quiet import debugging
from eagergraph.cli.terminal import fail


def _sizes(rows: str, least: int) -> list[int]:
    sizes = checked(lambda: parse_numbers(rows, int, "--rows"))
    if not sizes or min(sizes) < least:
        fail(f"--rows: every size must be at least {least}")
    return sizes


@app.command()
@with_config_options(["epochs", "batch_size", "hidden", "learning_rate", "seed", "task"])
def bench(
    rows: Annotated[str, typer.Option(help="Training rows, one size or several: 800,32000.")] = "800,32000",
    repeats: Annotated[int, typer.Option(min=1, help="Runs per contender; the median is reported.")] = 3,
    eager_max_steps: Annotated[int, typer.Option("--eager-max-steps", min=2,
                                                 help="Above this many steps eager is measured on fewer and extrapolated.")] = 400,
    chart: Annotated[Optional[Path], typer.Option(help="Write a PNG chart of step times here (default: none).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="End stdout with one JSON line of every figure (default: off).")] = False,
    publish: Annotated[bool, typer.Option("--publish", help="Also publish the table and chart as a Prefect artifact "
                                          "(key eagergraph-bench) on the configured or local server (default: off).")] = False,
    overrides: dict | None = None,
) -> None:
    """Benchmark eager, each graph variant and Keras fit on the same data, model and seed, in one process.
    The model and training options default to the pipeline's own."""
    prepare_environment()
    from eagergraph.config import build_config

    c = checked(lambda: build_config(None, **(overrides or {})))
    sizes = _sizes(rows, c.batch_size)
    api = use_server(False) if publish else None  # before the benchmark: a server problem shows in seconds
    from rich.console import Console

    from eagergraph.bench.steps import plot, render, run_bench
    from eagergraph.metrics import DEFAULT_TASK

    if not debugging():  # Keras fit is rebuilt per contender and repeat: TensorFlow warns of the retracing, by design
        logging.getLogger("tensorflow").setLevel(logging.ERROR)
    task = DEFAULT_TASK if c.task == "auto" else c.task  # synthetic data: the default task unless asked
    from eagergraph.core.runtime import start_tensorflow

    start_tensorflow()  # its thread settings come before TensorFlow's first op, the seed below included
    import keras

    # Process-wide, so set here, once: Keras fit's shuffling (the keras_fit contender) is a random op, which op
    # determinism requires seeded. The contenders' own weights and batch orders are seeded from --seed each.
    keras.utils.set_random_seed(c.seed)
    report = run_bench(sizes, c.epochs, c.batch_size, c.hidden, c.learning_rate, c.seed, repeats, eager_max_steps, task)
    console = Console(width=None if sys.stdout.isatty() else 150)  # a wide table stays readable in logs
    for item in render(report):
        console.print(item)
    if chart is not None:
        console.print(f"chart: {plot(report, chart)}")
    if publish:
        from eagergraph.bench.steps import CONTENDERS
        from eagergraph.cli.prefect_exit import deliver_pending
        from eagergraph.reporting.artifacts import publish_bench
        from eagergraph.reporting.links import ui_url

        publish_bench(report, CONTENDERS)
        deliver_pending()  # nothing of Prefect's prints after the command's last line
        console.print(f"published: {ui_url(api) if api else '(temporary server)'}/artifacts/key/eagergraph-bench")
    if as_json:
        sys.stdout.write(json.dumps(report) + "\n")


@app.command("bench-data")
def bench_data(
    rows: Annotated[str, typer.Option(help="Comma-separated table sizes, each run in a fresh process.")] = "1000000,10000000",
    n_features: Annotated[int, typer.Option("--n-features", min=1, help="Synthetic features.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="End stdout with one JSON line: the results per size (default: off).")] = False,
) -> None:
    """Rows per second of ingest, normalize and engineer-features, and peak memory, on synthetic data."""
    prepare_environment()
    sizes = _sizes(rows, 10)
    from rich.console import Console

    from eagergraph.bench.data import measure_in_child
    from eagergraph.reporting.terminal import data_bench_table

    results = [measure_in_child(size, n_features) for size in sizes]
    Console().print(data_bench_table(results))
    if as_json:
        sys.stdout.write(json.dumps(results) + "\n")

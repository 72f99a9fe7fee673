"""The `eagergraph` command: parses options into the typed config and calls the flow; nothing else."""

from __future__ import annotations

import inspect
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from eagergraph.cli.terminal import DEBUG_ENV, EXIT_BAD_INPUT, PREFIX, debugging, fail  # noqa: F401  (fail: for every command)

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Train one Keras model in eager and in graph execution, and compare them.")


def prepare_environment() -> None:
    """Defaults that must be in place before Prefect or TensorFlow is imported; the user's own settings win."""
    os.environ.setdefault("PREFECT_HOME", str(Path.cwd() / ".prefect"))  # runs stay browsable in the UI later
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # Prefect's progress log is output, not an error: stdout, so stderr holds nothing but the one error line.
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_STREAM", "ext://sys.stdout")


@app.callback()
def options(debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and TensorFlow's start-up messages.")] = False) -> None:
    """Train one Keras model in eager and in graph execution, and compare them."""
    if debug:
        os.environ[DEBUG_ENV] = "1"


def _csv(value: Optional[str]) -> Optional[list[str]]:
    return [part.strip() for part in value.split(",") if part.strip()] if value else None


@app.command()
def run(
    data: Annotated[Optional[Path], typer.Option(help="CSV or Parquet file, or folder of Parquet files (default: synthetic).")] = None,
    label: Annotated[Optional[str], typer.Option(help="Binary label column.  [default: label]")] = None,
    features: Annotated[Optional[str], typer.Option(help="Comma-separated feature columns (default: all numeric but the label, excluded and id columns).")] = None,
    exclude: Annotated[Optional[str], typer.Option(help="Comma-separated columns left out of the default features.")] = None,
    positive_class: Annotated[Optional[str], typer.Option("--positive-class", help="Label value that is the positive class (default: the larger value in sorted order).")] = None,
    rows: Annotated[Optional[int], typer.Option(help="Synthetic rows.  [default: 1000]")] = None,
    n_features: Annotated[Optional[int], typer.Option("--n-features", help="Synthetic features.  [default: 10]")] = None,
    epochs: Annotated[Optional[int], typer.Option(help="Epochs.  [default: 5]")] = None,
    batch_size: Annotated[Optional[int], typer.Option("--batch-size", help="Batch size.  [default: 32]")] = None,
    hidden: Annotated[Optional[int], typer.Option(help="Hidden units.  [default: 16]")] = None,
    learning_rate: Annotated[Optional[float], typer.Option("--learning-rate", help="Adam learning rate.  [default: 0.01]")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Seed for data, split, weights, batch order.  [default: 42]")] = None,
    test_fraction: Annotated[Optional[float], typer.Option("--test-fraction", help="Test share.  [default: 0.2]")] = None,
    graph_variant: Annotated[Optional[str], typer.Option("--graph-variant", help="step, fused or xla.  [default: fused]")] = None,
    artifacts: Annotated[Optional[Path], typer.Option(help="Folder for run directories.  [default: artifacts]")] = None,
    modes: Annotated[Optional[str], typer.Option("--modes", help="eager, graph or both.  [default: both]")] = None,
    eager_max_steps: Annotated[Optional[int], typer.Option("--eager-max-steps", help="Bound eager training (large data); its time is extrapolated.")] = None,
    in_memory_rows: Annotated[Optional[int], typer.Option("--in-memory-rows", help="Larger train splits stream from Parquet.  [default: 1000000]")] = None,
    runner: Annotated[Optional[str], typer.Option("--runner", help="threads or dask.  [default: threads]")] = None,
    dask_address: Annotated[Optional[str], typer.Option("--dask-address", help="Existing Dask scheduler tcp://HOST:PORT (default: a local cluster).")] = None,
    dask_workers: Annotated[Optional[int], typer.Option("--dask-workers", help="Worker processes of the local Dask cluster.  [default: 2]")] = None,
    refresh: Annotated[Optional[bool], typer.Option("--refresh", help="Recompute ingest, normalize and engineer-features even when cached.")] = None,
    drop_invalid: Annotated[Optional[bool], typer.Option("--drop-invalid", help="Drop rows with missing, NaN or infinite values (default: refuse them).", show_default=False)] = None,
    config: Annotated[Optional[Path], typer.Option("--config", help="TOML file with any of these options.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="End stdout with one JSON line: run_dir, flow_run_id, metrics.")] = False,
) -> None:
    """Run the whole pipeline once and print the training trace, the evaluation and a prediction."""
    prepare_environment()
    from eagergraph.config import ConfigError, build_config

    try:
        cfg = build_config(config, data=data, label=label, features=_csv(features), exclude=_csv(exclude),
                           positive_class=positive_class, rows=rows, n_features=n_features,
                           epochs=epochs, batch_size=batch_size, hidden=hidden, learning_rate=learning_rate, seed=seed,
                           test_fraction=test_fraction, graph_variant=graph_variant, artifacts=artifacts, modes=modes,
                           eager_max_steps=eager_max_steps, in_memory_rows=in_memory_rows, runner=runner,
                           dask_address=dask_address, dask_workers=dask_workers, refresh=refresh, drop_invalid=drop_invalid)
    except ConfigError as exc:
        fail(str(exc))  # before Prefect or TensorFlow is even imported
    from eagergraph.cli.terminal import quiet_expected_tracebacks, reported_errors

    with reported_errors(debugging()):
        from eagergraph.flows.pipeline import run_pipeline

        if not debugging():
            quiet_expected_tracebacks()
        result = run_pipeline(cfg)
    from eagergraph.reporting.terminal import print_run

    print_run(result)
    if as_json:
        sys.stdout.write(json.dumps(result, default=str) + "\n")


@app.command()
def predict(
    model: Annotated[Path, typer.Argument(help="A SavedModel directory, or a run directory (its graph model is used).")],
    input: Annotated[Optional[Path], typer.Option("--input", help="CSV or Parquet file with the model's raw feature columns.")] = None,
    output: Annotated[Optional[Path], typer.Option("--output", help="Where to write predictions (.parquet or .csv).")] = None,
    row: Annotated[Optional[str], typer.Option("--row", help="One row of raw feature values: v1,v2,...")] = None,
    drop_invalid: Annotated[bool, typer.Option("--drop-invalid", help="Skip input rows with missing, NaN or infinite features (default: keep them with an empty prediction).")] = False,
) -> None:
    """Predict with a saved model, no retraining: a whole file, or one row."""
    prepare_environment()
    if (input is None) == (row is None):
        fail("give exactly one of --input FILE or --row v1,v2,...")
    if row is not None and output is not None:
        fail("--output goes with --input FILE; --row prints its prediction")
    from eagergraph.cli.terminal import reported_errors

    with reported_errors(debugging()):
        from eagergraph.core.prediction import invalid_rows_note, predict_file, predict_row

        if row is not None:
            typer.echo(json.dumps(predict_row(model, row)))
        else:
            written = predict_file(model, input, output, drop_invalid)
            typer.echo(f"wrote {written['rows']} predictions to {written['output']} "
                       f"(probability of the positive class {written['positive_class']!r})")
            note = invalid_rows_note(written)
            if note:
                typer.echo(note)


@app.command()
def bench(
    rows: Annotated[str, typer.Option(help="Training rows, one size or several: 800,32000.")] = "800,32000",
    epochs: Annotated[int, typer.Option(min=1, help="Epochs.")] = 5,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Batch size.")] = 32,
    hidden: Annotated[int, typer.Option(min=1, help="Hidden units.")] = 16,
    learning_rate: Annotated[float, typer.Option("--learning-rate", min=0.0, help="Adam learning rate.")] = 0.01,
    seed: Annotated[int, typer.Option(help="Seed for data, weights and batch order.")] = 42,
    repeats: Annotated[int, typer.Option(min=1, help="Runs per contender; the median is reported.")] = 3,
    eager_max_steps: Annotated[int, typer.Option("--eager-max-steps", min=2,
                                                 help="Above this many steps eager is measured on fewer and extrapolated.")] = 400,
    chart: Annotated[Optional[Path], typer.Option(help="Write a PNG chart of step times here.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="End stdout with one JSON line of every figure.")] = False,
) -> None:
    """Benchmark eager, each graph variant and Keras fit on the same data, model and seed, in one process."""
    prepare_environment()
    from rich.console import Console

    from eagergraph.bench.steps import plot, render, run_bench

    try:
        sizes = [int(part) for part in rows.split(",") if part.strip()]
    except ValueError:
        fail(f"--rows: {rows!r} is not a comma-separated list of whole numbers")
    if not sizes or min(sizes) < batch_size:
        fail(f"--rows: every size must be at least the batch size ({batch_size})")
    from eagergraph.cli.quiet import start_tensorflow

    start_tensorflow()  # TensorFlow's native start-up notices stay off stderr, as in `run`
    report = run_bench(sizes, epochs, batch_size, hidden, learning_rate, seed, repeats, eager_max_steps)
    console = Console(width=None if sys.stdout.isatty() else 150)  # a wide table stays readable in logs
    for item in render(report):
        console.print(item)
    if chart is not None:
        console.print(f"chart: {plot(report, chart)}")
    if as_json:
        sys.stdout.write(json.dumps(report) + "\n")


@app.command()
def server(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the API and the UI.")] = 4200,
) -> None:
    """Start the Prefect server (API and UI) over the same PREFECT_HOME as `run`, until Ctrl-C."""
    prepare_environment()
    from eagergraph.orchestration.server import run_server

    raise typer.Exit(run_server(host, port))


def serve(cron: Optional[str] = None, interval: Optional[float] = None, **options: object) -> None:
    """Serve the pipeline as a deployment on a schedule (cron or interval), with the run options as its parameters."""
    prepare_environment()
    from eagergraph.config import ConfigError, build_config
    from eagergraph.orchestration.server import schedule, serve_pipeline

    try:
        when = schedule(cron, interval)
    except ValueError as exc:
        fail(str(exc))
    options.pop("as_json", None)
    file = options.pop("config", None)
    options["features"] = _csv(options.get("features"))  # type: ignore[arg-type]
    options["exclude"] = _csv(options.get("exclude"))  # type: ignore[arg-type]
    try:
        cfg = build_config(file, **options)
    except ConfigError as exc:
        fail(str(exc))
    serve_pipeline(cfg, when)


def _serve_signature() -> inspect.Signature:
    """`serve` takes its schedule plus every option of `run` (but --json), so the two can never drift apart."""
    when = [inspect.Parameter("cron", inspect.Parameter.KEYWORD_ONLY, default=None,
                              annotation=Annotated[Optional[str], typer.Option(help="Cron expression, e.g. '0 * * * *'.")]),
            inspect.Parameter("interval", inspect.Parameter.KEYWORD_ONLY, default=None,
                              annotation=Annotated[Optional[float], typer.Option(help="Seconds between runs.")])]
    options = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
               for p in inspect.signature(run, eval_str=True).parameters.values() if p.name != "as_json"]
    return inspect.Signature([*when, *options])


serve.__signature__ = _serve_signature()  # type: ignore[attr-defined]
app.command(name="serve")(serve)


@app.command()
def sweep(
    learning_rates: Annotated[Optional[str], typer.Option("--learning-rates", help="Comma-separated learning rates.")] = None,
    hidden: Annotated[Optional[str], typer.Option("--hidden", help="Comma-separated hidden sizes.")] = None,
    batch_sizes: Annotated[Optional[str], typer.Option("--batch-sizes", help="Comma-separated batch sizes.")] = None,
    variants: Annotated[Optional[str], typer.Option("--variants", help="Comma-separated graph variants (step, fused, xla).")] = None,
    data: Annotated[Optional[Path], typer.Option(help="CSV or Parquet file, or folder of Parquet files (default: synthetic).")] = None,
    label: Annotated[Optional[str], typer.Option(help="Binary label column.  [default: label]")] = None,
    features: Annotated[Optional[str], typer.Option(help="Comma-separated feature columns (default: all numeric but the label, excluded and id columns).")] = None,
    exclude: Annotated[Optional[str], typer.Option(help="Comma-separated columns left out of the default features.")] = None,
    positive_class: Annotated[Optional[str], typer.Option("--positive-class", help="Label value that is the positive class (default: the larger value in sorted order).")] = None,
    drop_invalid: Annotated[Optional[bool], typer.Option("--drop-invalid", help="Drop rows with missing, NaN or infinite values (default: refuse them).", show_default=False)] = None,
    rows: Annotated[Optional[int], typer.Option(help="Synthetic rows.  [default: 1000]")] = None,
    n_features: Annotated[Optional[int], typer.Option("--n-features", help="Synthetic features.  [default: 10]")] = None,
    test_fraction: Annotated[Optional[float], typer.Option("--test-fraction", help="Test share.  [default: 0.2]")] = None,
    epochs: Annotated[Optional[int], typer.Option(help="Epochs of every candidate.  [default: 5]")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Seed for data, split, weights, batch order.  [default: 42]")] = None,
    artifacts: Annotated[Optional[Path], typer.Option(help="Folder for run directories.  [default: artifacts]")] = None,
    runner: Annotated[Optional[str], typer.Option("--runner", help="threads (one candidate at a time) or dask (in parallel).")] = None,
    dask_address: Annotated[Optional[str], typer.Option("--dask-address", help="Existing Dask scheduler tcp://HOST:PORT.")] = None,
    dask_workers: Annotated[Optional[int], typer.Option("--dask-workers", help="Worker processes of the local Dask cluster.")] = None,
    config: Annotated[Optional[Path], typer.Option("--config", help="TOML file with any run option.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="End stdout with one JSON line: run_dir, ranking, best, metrics.")] = False,
) -> None:
    """Train a grid of graph-mode models, rank them by test metrics and export the best like a normal run."""
    prepare_environment()
    from eagergraph.config import ConfigError, build_config, build_sweep_grid

    try:
        cfg = build_config(config, data=data, label=label, features=_csv(features), exclude=_csv(exclude),
                           positive_class=positive_class, drop_invalid=drop_invalid, rows=rows, n_features=n_features,
                           test_fraction=test_fraction, epochs=epochs, seed=seed, artifacts=artifacts,
                           runner=runner, dask_address=dask_address, dask_workers=dask_workers)
        grid = build_sweep_grid(learning_rates=_numbers(learning_rates, float, "--learning-rates"),
                                hidden=_numbers(hidden, int, "--hidden"), batch_sizes=_numbers(batch_sizes, int, "--batch-sizes"),
                                variants=_csv(variants))
    except ConfigError as exc:
        fail(str(exc))
    from eagergraph.cli.terminal import quiet_expected_tracebacks, reported_errors

    with reported_errors(debugging()):
        from eagergraph.cli.quiet import start_tensorflow

        start_tensorflow()  # the sweep flow's modules import TensorFlow: its start-up notices stay off stderr, as in `run`
        from eagergraph.flows.sweep import run_sweep

        if not debugging():
            quiet_expected_tracebacks()
        result = run_sweep(cfg, grid)
    from eagergraph.reporting.terminal import print_sweep

    print_sweep(result)
    if as_json:
        sys.stdout.write(json.dumps(result, default=str) + "\n")


def _numbers(value: Optional[str], kind: type, option: str) -> Optional[list]:
    from eagergraph.config import ConfigError

    try:
        return [kind(part) for part in _csv(value)] if value else None
    except ValueError:
        raise ConfigError(f"{option}: {value!r} is not a comma-separated list of {kind.__name__} values") from None


@app.command("bench-data")
def bench_data(
    rows: Annotated[str, typer.Option(help="Comma-separated table sizes, each run in a fresh process.")] = "1000000,10000000",
    n_features: Annotated[int, typer.Option("--n-features", help="Synthetic features.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="End stdout with one JSON line: the results per size.")] = False,
) -> None:
    """Rows per second of ingest, normalize and engineer-features, and peak memory, on synthetic data."""
    prepare_environment()
    try:
        sizes = [int(part) for part in _csv(rows) or []]
    except ValueError:
        fail(f"--rows: {rows!r} is not a comma-separated list of integers")
    if not sizes or min(sizes) < 10 or n_features < 1:
        fail("--rows needs sizes of at least 10 rows and --n-features at least 1")
    from rich.console import Console

    from eagergraph.bench.data import bench_size
    from eagergraph.reporting.terminal import data_bench_table

    results = [bench_size(size, n_features) for size in sizes]
    Console().print(data_bench_table(results))
    if as_json:
        sys.stdout.write(json.dumps(results) + "\n")


def main() -> None:
    """Console script entry: usage errors (unknown option, bad number, missing argument) as one line, status 2."""
    if not sys.argv[1:]:
        app()  # no arguments: the help text, as typer shows it
    try:
        code = app(standalone_mode=False)
    except typer.TyperException as usage:  # typer's (vendored) click exceptions: usage errors
        typer.echo(f"{PREFIX}{usage.format_message()}", err=True)
        code = EXIT_BAD_INPUT
    except typer.Abort:
        code = 130
    sys.exit(code or 0)

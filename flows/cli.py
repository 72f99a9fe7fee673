"""The `eagergraph` command: parses options into the typed config and calls the flow; nothing else."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from flows.terminal import DEBUG_ENV, EXIT_BAD_INPUT, PREFIX, debugging, fail  # noqa: F401  (fail: for every command)

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
    features: Annotated[Optional[str], typer.Option(help="Comma-separated feature columns (default: all numeric but the label).")] = None,
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
    drop_invalid: Annotated[Optional[bool], typer.Option("--drop-invalid", help="Drop rows with missing, NaN or infinite values (default: refuse them).", show_default=False)] = None,
    config: Annotated[Optional[Path], typer.Option("--config", help="TOML file with any of these options.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="End stdout with one JSON line: run_dir, flow_run_id, metrics.")] = False,
) -> None:
    """Run the whole pipeline once and print the training trace, the evaluation and a prediction."""
    prepare_environment()
    from flows.config import ConfigError, build_config

    try:
        cfg = build_config(config, data=data, label=label, features=_csv(features), rows=rows, n_features=n_features,
                           epochs=epochs, batch_size=batch_size, hidden=hidden, learning_rate=learning_rate, seed=seed,
                           test_fraction=test_fraction, graph_variant=graph_variant, artifacts=artifacts,
                           drop_invalid=drop_invalid)
    except ConfigError as exc:
        fail(str(exc))  # before Prefect or TensorFlow is even imported
    from flows.terminal import quiet_expected_tracebacks, reported_errors

    with reported_errors(debugging()):
        from flows.pipeline import training_pipeline

        if not debugging():
            quiet_expected_tracebacks()
        result = training_pipeline(cfg)
    from flows.report import print_run

    print_run(result)
    if as_json:
        sys.stdout.write(json.dumps(result, default=str) + "\n")


@app.command()
def predict(
    model: Annotated[Path, typer.Argument(help="A SavedModel directory, or a run directory (its graph model is used).")],
    input: Annotated[Optional[Path], typer.Option("--input", help="CSV or Parquet file with the model's raw feature columns.")] = None,
    output: Annotated[Optional[Path], typer.Option("--output", help="Where to write predictions (.parquet or .csv).")] = None,
    row: Annotated[Optional[str], typer.Option("--row", help="One row of raw feature values: v1,v2,...")] = None,
) -> None:
    """Predict with a saved model, no retraining: a whole file, or one row."""
    prepare_environment()
    if (input is None) == (row is None):
        fail("give exactly one of --input FILE or --row v1,v2,...")
    if row is not None and output is not None:
        fail("--output goes with --input FILE; --row prints its prediction")
    from flows.terminal import reported_errors

    with reported_errors(debugging()):
        from tasks.predict import predict_file, predict_row

        if row is not None:
            typer.echo(json.dumps(predict_row(model, row)))
        else:
            written = predict_file(model, input, output)
            typer.echo(f"wrote {written['rows']} predictions to {written['output']}")


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

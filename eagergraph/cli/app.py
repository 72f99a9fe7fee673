"""The `eagergraph` command: parses options into the typed config and calls a flow; nothing else.

The options of `run`, `serve` and `sweep` are generated from PipelineConfig (eagergraph.cli.options); the other
commands live beside this module and register on the same app.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from eagergraph.cli import bench as _bench  # noqa: F401  (registers bench, bench-data)
from eagergraph.cli import registry as _registry  # registers promote, rollback, runs, gc
from eagergraph.cli import score as _score  # registers score, scores; serve --scoring uses it
from eagergraph.cli import server as _server  # noqa: F401  (registers server, zombie-automation)
from eagergraph.cli.common import AsJson, ConfigFile, Ephemeral, app, checked, finish, prepare_environment, use_server
from eagergraph.cli.options import parse_list, parse_numbers, with_config_options
from eagergraph.cli.quiet import debugging, set_debugging
from eagergraph.cli.terminal import EXIT_BAD_INPUT, PREFIX, fail
from eagergraph.config import SWEEP_FIELDS
from eagergraph.text import plural


@app.callback()
def options(debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and TensorFlow's start-up messages.")] = False) -> None:
    """Train one Keras model in eager and in graph execution, and compare them."""
    set_debugging(debug)


def _config(file: Path | None, overrides: dict[str, Any]) -> Any:
    """The validated config, its data checked as far as headers go: every user error before Prefect or TensorFlow."""
    from eagergraph.config import build_config
    from eagergraph.data.preflight import preflight_data

    cfg = checked(lambda: build_config(file, **overrides))
    checked(lambda: preflight_data(cfg.data, cfg.label, cfg.features))
    return cfg


def _flow(call: Any) -> dict:
    """Run a flow with the CLI's exit contract: user errors and interrupts as one line, Prefect's console quiet."""
    from eagergraph.cli.terminal import quiet_expected_tracebacks, reported_errors

    with reported_errors(debugging()):
        if not debugging():
            quiet_expected_tracebacks()
        return call()


@app.command()
@with_config_options()
def run(config: ConfigFile = None, as_json: AsJson = False, ephemeral: Ephemeral = False,
        overrides: dict | None = None) -> None:
    """Run the whole pipeline once and print the training trace, the evaluation and a prediction."""
    prepare_environment()
    cfg = _config(config, overrides or {})
    api = use_server(ephemeral)
    from eagergraph.flows.pipeline import run_pipeline
    from eagergraph.reporting.terminal import print_run

    result = _flow(lambda: run_pipeline(cfg))
    finish(api, result, print_run, as_json)
    _registry.exit_if_refused(cfg.require_promotion, result)


@app.command()
@with_config_options(SWEEP_FIELDS)
def sweep(
    learning_rates: Annotated[Optional[str], typer.Option(help="Comma-separated learning rates (default: the --learning-rate).")] = None,
    hidden_sizes: Annotated[Optional[str], typer.Option(help="Comma-separated hidden sizes (default: the --hidden).")] = None,
    batch_sizes: Annotated[Optional[str], typer.Option(help="Comma-separated batch sizes (default: the --batch-size).")] = None,
    variants: Annotated[Optional[str], typer.Option(help="Comma-separated graph variants (default: the --graph-variant).")] = None,
    config: ConfigFile = None, as_json: AsJson = False, ephemeral: Ephemeral = False, overrides: dict | None = None,
) -> None:
    """Train a grid of graph-mode models, rank them on the validation split, and evaluate and gate the best on test like a normal run."""
    prepare_environment()
    from eagergraph.config import build_sweep_grid, refuse_run_only

    cfg = _config(config, overrides or {})
    checked(lambda: refuse_run_only(cfg, config))
    grid = checked(lambda: build_sweep_grid(learning_rates=_numbers(learning_rates, float, "--learning-rates"),
                                            hidden=_numbers(hidden_sizes, int, "--hidden-sizes"),
                                            batch_sizes=_numbers(batch_sizes, int, "--batch-sizes"),
                                            variants=parse_list(variants) if variants else None))
    api = use_server(ephemeral)
    from eagergraph.flows.sweep import run_sweep
    from eagergraph.reporting.terminal import print_sweep

    finish(api, _flow(lambda: run_sweep(cfg, grid)), print_sweep, as_json)


def _numbers(value: Optional[str], kind: type, option: str) -> Optional[list]:
    return parse_numbers(value, kind, option) if value else None


@app.command()
@with_config_options()
def serve(
    cron: Annotated[Optional[str], typer.Option(help="Cron expression, e.g. '0 * * * *' (default: none).")] = None,
    interval: Annotated[Optional[float], typer.Option(help="Seconds between runs (default: none).")] = None,
    rrule: Annotated[Optional[str], typer.Option(help="iCalendar RRule, e.g. 'FREQ=WEEKLY;BYDAY=MO;BYHOUR=6' "
                                                 "(default: none).")] = None,
    scoring: Annotated[Optional[Path], typer.Option("--scoring", help="Also serve the scoring flow: a TOML file of "
                                                    "`eagergraph score`'s options with its own cron, interval or rrule, "
                                                    "or its [scoring] table (default: training only).")] = None,
    config: ConfigFile = None, overrides: dict | None = None,
) -> None:
    """Serve the pipeline as a deployment on a schedule (cron, interval or RRule), with the run options as its
    parameters, and the scoring flow on its own schedule with `--scoring`, until Ctrl-C or SIGTERM (which pause
    the deployments)."""
    prepare_environment()
    from eagergraph.orchestration.deployments import schedule, serve_deployments, training_deployment

    try:
        when = schedule(cron, interval, rrule)
    except ValueError as exc:
        fail(str(exc))
    cfg = _config(config, overrides or {})
    scored = _score.scoring_schedule(scoring) if scoring is not None else None
    use_server(False)  # a served deployment needs a server that outlives each run
    _server.zombie_automation_on()
    from eagergraph.flows.pipeline import training_pipeline

    deployments = [training_deployment(training_pipeline, cfg, when)]
    if scored is not None:
        deployments.append(_score.scoring_deployment_of(*scored))
    typer.echo(_score.stopped_serving(serve_deployments(*deployments), "eagergraph serve"))


@app.command()
def predict(
    model: Annotated[Path, typer.Argument(help="A SavedModel directory, or a run directory (its graph model is used).")],
    input: Annotated[Optional[Path], typer.Option("--input", help="CSV or Parquet file with the model's raw feature columns.")] = None,
    output: Annotated[Optional[Path], typer.Option("--output", help="Where to write predictions, .parquet or .csv (default: beside the input).")] = None,
    row: Annotated[Optional[str], typer.Option("--row", help="One row of raw feature values as a CSV line, in the model's "
                                               "feature order: v1,v2,... (quote a text value that holds a comma).")] = None,
    row_json: Annotated[Optional[str], typer.Option("--row-json", help="One row as a JSON object by feature name, e.g. "
                                                    "'{\"sex\": \"male\", \"age\": 22}' (a missing key is a missing value).")] = None,
    drop_invalid: Annotated[bool, typer.Option("--drop-invalid", help="Skip input rows with missing, NaN or infinite "
                                               "features (default: keep them with an empty prediction).")] = False,
) -> None:
    """Predict with a saved model, no retraining: a whole file, or one row."""
    prepare_environment()
    if sum(given is not None for given in (input, row, row_json)) != 1:
        fail("give exactly one of --input FILE or --row v1,v2,... or --row-json '{...}'")
    if input is None and output is not None:
        fail("--output goes with --input FILE; --row and --row-json print their prediction")
    from eagergraph.data.preflight import check_input
    from eagergraph.rundir.paths import resolve_model

    checked(lambda: resolve_model(model))
    if input is not None:
        checked(lambda: check_input(input))
    from eagergraph.cli.terminal import reported_errors

    with reported_errors(debugging()):
        from eagergraph.core.prediction import invalid_rows_note, predict_file, predict_row, unseen_note

        if input is None:  # one JSON line; its "unseen" counts the values not in the model's vocabulary
            typer.echo(json.dumps(predict_row(model, row if row is not None else row_json, as_json=row_json is not None)))
        else:
            written = predict_file(model, input, output, drop_invalid)
            what = {"binary": f"probability of the positive class {written['positive_class']!r}",
                    "multiclass": "the class, its probability and every class's probability",
                    "regression": "the value in the target's units"}[written["task"]]
            typer.echo(f"wrote {plural(written['rows'], 'prediction')} to {written['output']} ({what})")
            for note in filter(None, (invalid_rows_note(written), unseen_note(written["unseen"]))):
                typer.echo(note)


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

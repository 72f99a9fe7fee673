"""`eagergraph score` (the scoring flow, once or on a schedule) and `eagergraph scores` (the scoring runs of an
artifacts folder). Options come from ScoringConfig, as `run`'s come from PipelineConfig."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from eagergraph.cli.common import Ephemeral, app, checked, prepare_environment, use_server
from eagergraph.cli.options import with_config_options
from eagergraph.cli.terminal import fail
from eagergraph.errors import USER_ERRORS
from eagergraph.scoring.config import ScoringConfig
from eagergraph.text import plural


def _preflight(cfg: ScoringConfig, scheduled: bool = False) -> None:
    """What needs neither Prefect nor TensorFlow, checked first: the output folder, the model, the inputs and their
    columns. A schedule resolves its model and lists its inputs at each run (a folder fills later, a model is
    promoted later, perhaps by the training served beside it), so for one only the output folder must be right now;
    the rest, when it fails, is said in a note and checked again by each run."""
    from eagergraph.scoring.inputs import check_columns, check_output, input_files, resolve_scoring_model

    def model_and_inputs() -> None:
        from eagergraph.core.prediction import model_info

        _, saved = resolve_scoring_model(cfg.artifacts, cfg.model_name, cfg.model)
        check_columns(input_files(cfg.input), list(model_info(saved)["features"]))

    checked(lambda: check_output(cfg.output_folder, cfg.input, cfg.output_named))
    if not scheduled:
        checked(model_and_inputs)
        return
    try:
        model_and_inputs()
    except USER_ERRORS as error:
        typer.echo(f"note: {error} (each scheduled run checks again when it runs)", err=True)


def scoring_schedule(file: Path) -> tuple[ScoringConfig, dict[str, Any]]:
    """`serve --scoring FILE`: the scoring config and schedule of the file, checked as `score` checks its options
    (one line, exit 2, before Prefect starts)."""
    from eagergraph.orchestration.deployments import schedule
    from eagergraph.scoring.config import read_scoring_file

    cfg, given = checked(lambda: read_scoring_file(file))
    try:
        when = schedule(**given)
    except ValueError as exc:
        fail(f"--scoring {file}: {str(exc).replace('--', '')}")
    _preflight(cfg, scheduled=True)
    return cfg, when


def scoring_deployment_of(cfg: ScoringConfig, when: dict[str, Any]) -> Any:
    """The scoring flow's deployment with this config and schedule (`score --cron`, `serve --scoring`)."""
    from eagergraph.flows.scoring import scoring_flow
    from eagergraph.orchestration.scheduled_scoring import scoring_deployment

    return scoring_deployment(scoring_flow, cfg, when)


def stopped_serving(names: list[str], command: str) -> str:
    """What a serving command says when it stops: its deployments are paused until it serves them again."""
    if len(names) == 1:
        return (f"stopped serving: the deployment {names[0]!r} is paused (no scheduled runs while nothing serves it); "
                f"the same `{command}` command resumes it")
    return (f"stopped serving: the deployments {', '.join(map(repr, names))} are paused (no scheduled runs while "
            f"nothing serves them); the same `{command}` command resumes them")


def _print(result: dict[str, Any]) -> None:
    for check in result["checks"]:
        typer.echo(f"{check['name']}: {check['line']}")
    typer.echo(f"scored {plural(result['rows'], 'row')} with model {result['model_name']} "
               f"({result['model_run']}) into {result['output']}"
               + (f"; skipped {plural(len(result['skipped']), 'input')} already scored by this model"
                  if result["skipped"] else ""))


@app.command()
@with_config_options(tuple(ScoringConfig.model_fields), model=ScoringConfig)
def score(
    cron: Annotated[Optional[str], typer.Option(help="Serve scoring on this cron schedule, e.g. '0 6 * * *' (default: score once).")] = None,
    interval: Annotated[Optional[float], typer.Option(help="Serve scoring every this many seconds (default: score once).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="End stdout with one JSON line: flow_run_id, model, rows, "
                                          "outputs, skipped inputs and the drift checks (default: off).")] = False,
    ephemeral: Ephemeral = False, overrides: dict | None = None,
) -> None:
    """Score new data with a model's production SavedModel: drift checked, lineage kept, each input once."""
    prepare_environment()
    from eagergraph.scoring.config import build_scoring_config

    cfg = checked(lambda: build_scoring_config(**(overrides or {})))
    when = None
    if cron is not None or interval is not None:
        from eagergraph.orchestration.deployments import schedule

        try:
            when = schedule(cron, interval)
        except ValueError as exc:
            fail(str(exc))
    _preflight(cfg, scheduled=when is not None)
    api = use_server(ephemeral and when is None)
    from eagergraph.cli.app import _flow
    from eagergraph.flows.scoring import scoring_flow

    if when is not None:
        from eagergraph.cli.server import zombie_automation_on
        from eagergraph.orchestration.deployments import serve_deployments

        zombie_automation_on()  # as `serve`: heartbeats on, and runs whose process died are marked Crashed
        typer.echo(stopped_serving(serve_deployments(scoring_deployment_of(cfg, when)), "eagergraph score"))
        return
    result = _flow(lambda: scoring_flow(cfg))
    _print(result)
    if api:
        from eagergraph.reporting.links import flow_run_link

        typer.echo(f"flow run: {flow_run_link(api, result['flow_run_id'])}")
    if as_json:
        sys.stdout.write(json.dumps(result, default=str) + "\n")
    sys.stdout.flush()


@app.command()
def scores(
    artifacts: Annotated[Path, typer.Option("--artifacts", help="Artifacts folder whose scoring runs to list.")] = Path("artifacts"),
    as_json: Annotated[bool, typer.Option("--json", help="Print the scoring runs as one JSON line.")] = False,
) -> None:
    """List the scoring runs of an artifacts folder, newest last: model, rows, inputs scored and skipped, drift."""
    from eagergraph.scoring.plan import read_scoring_log

    if not artifacts.is_dir():
        fail(f"--artifacts {artifacts}: no such folder")
    entries = read_scoring_log(artifacts)
    if as_json:
        typer.echo(json.dumps(entries, default=str))
        return
    if not entries:
        typer.echo(f"{artifacts}: no scoring runs yet")
    for e in entries:
        drift = ", ".join(f"{name}: {', '.join(cols)}" for name, cols in e.get("drifted", {}).items()) or "none"
        typer.echo(f"{e['time'][:19]}  {e['model_name']} ({e['model_run']})  {plural(e['rows'], 'row')}  "
                   f"scored {len(e['scored'])}, skipped {len(e['skipped'])}  drift: {drift}  flow run {e['flow_run_id']}")

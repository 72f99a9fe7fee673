"""What every `eagergraph` command shares: the typer app, the process set-up, the server, the closing lines."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from eagergraph.cli.terminal import fail
from eagergraph.errors import USER_ERRORS
from eagergraph.orchestration.local_server import EPHEMERAL_ENV
from eagergraph.reporting.links import ui_url

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None,
                  help="Train one Keras model in eager and in graph execution, and compare them.")

ConfigFile = Annotated[Path | None, typer.Option("--config", help="TOML file with any of these options; its paths are "
                                                 "relative to the file (default: none).")]
AsJson = Annotated[bool, typer.Option("--json", help="End stdout with one JSON line: run_dir, flow_run_id, metrics, prediction, the gate's verdict "
                                         "and the data summary "
                                         "(default: off).")]
Ephemeral = Annotated[bool, typer.Option("--ephemeral", help=f"Use Prefect's temporary per-run server (nothing left "
                                         f"running, no UI afterwards); also {EPHEMERAL_ENV}=1. Default: a local "
                                         "server, started on first use and reused after (default: off).")]


def prepare_environment() -> None:
    """Defaults that must be in place before Prefect or TensorFlow is imported; the user's own settings win.
    PREFECT_HOME stays Prefect's (~/.prefect, one per user): runs made from any folder show up in the same UI."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # Prefect's progress log is output, not an error: stdout, so stderr holds nothing but the one error line.
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_STREAM", "ext://sys.stdout")


def checked(build: Callable[[], Any]) -> Any:
    """Run a check or a config build before Prefect or TensorFlow start: a user error is one line and status 2."""
    try:
        return build()
    except USER_ERRORS as error:
        fail(str(error))


def set_prefect_environment(settings: dict[str, str]) -> None:
    """Put Prefect settings in the environment, and have Prefect read them again when it is already imported.

    Prefect reads its settings once, when it is first imported (its global settings context): a setting put in the
    environment after an import (a schedule checked with Prefect's own models, say) would be ignored, and a client
    with no API URL starts a temporary server. `refresh_global_settings_context` is Prefect's call for exactly this
    (its plugins set environment variables after the import)."""
    os.environ.update(settings)
    if settings and "prefect.context" in sys.modules:
        from prefect.context import refresh_global_settings_context

        refresh_global_settings_context()


def use_server(ephemeral: bool) -> str | None:
    """Point Prefect at its server (a local server that stays, unless ephemeral)."""
    from eagergraph.orchestration.local_server import connect
    from eagergraph.orchestration.server_record import ServerError

    try:
        url, how, settings = connect(ephemeral)
    except ServerError as exc:
        fail(str(exc))
    set_prefect_environment(settings)
    if how in ("started", "reused"):
        typer.echo(f"Prefect UI: {ui_url(url)} (local server, {how}; `eagergraph server stop` stops it)")
    return url


def finish(api: str | None, result: dict, print_result: Callable[[dict], None], as_json: bool) -> None:
    """The run's output, ending with its flow-run link and run directory; the --json line always last."""
    from eagergraph.cli.prefect_exit import stop_temporary_servers
    from eagergraph.reporting.links import flow_run_link

    stop_temporary_servers()  # its "Stopping temporary server" line must come before the output, not after
    print_result(result)
    link = flow_run_link(api, result["flow_run_id"]) if api else (
        f"{result['flow_run_id']} (temporary server, now stopped: run without --ephemeral to browse runs)")
    typer.echo(f"flow run: {link}")
    typer.echo(f"run directory: {Path(result['run_dir']).resolve()}")
    if as_json:
        sys.stdout.write(json.dumps(result, default=str) + "\n")
    sys.stdout.flush()

"""`eagergraph server …` and `eagergraph zombie-automation`: the local Prefect server and its crash detection."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from eagergraph.cli.common import app, prepare_environment, set_prefect_environment, use_server
from eagergraph.cli.quiet import debugging
from eagergraph.cli.terminal import fail
from eagergraph.orchestration.server_record import ServerRecord

server_app = typer.Typer(help="The local Prefect server (API and UI) over your PREFECT_HOME: foreground by default.",
                         invoke_without_command=True, rich_markup_mode=None)
app.add_typer(server_app, name="server")

Host = Annotated[str, typer.Option(help="Address to bind.")]
Port = Annotated[int, typer.Option(help="Port of the API and the UI.")]


@server_app.callback()
def server(context: typer.Context, host: Host = "127.0.0.1", port: Port = 4200) -> None:
    """Without a sub-command: the Prefect server in the foreground until Ctrl-C or SIGTERM (both stop it)."""
    if context.invoked_subcommand is None:
        _foreground(host, port)


def _foreground(host: str, port: int) -> None:
    prepare_environment()
    raise typer.Exit(run_server(host, port))


def run_server(host: str, port: int) -> int:
    """Run `prefect server start` in the foreground until Ctrl-C or SIGTERM; its exit status.

    The server runs in its own process group, stopped as a whole on either signal: a SIGTERM (systemd,
    `docker stop`, `kill`) to this process used to leave the real server running. While it runs it is recorded
    in the Prefect home like a background server, so `eagergraph run` in another terminal finds and uses it.
    Signal handlers are process-wide state, so they are installed here, in the CLI, and restored on the way out.
    """
    import signal
    import subprocess

    from eagergraph.orchestration.local_server import api_url, foreground_environment, healthy, server_command, stop_group
    from eagergraph.orchestration.profiles import point_profile, restore_profile
    from eagergraph.orchestration.server_record import RECORD_NAME, ServerError, prefect_home, write_record
    from eagergraph.reporting.links import ui_url

    url = api_url(port, host)
    home = prefect_home()
    typer.echo(f"Prefect UI: {ui_url(url)}   PREFECT_HOME: {home}")
    typer.echo("In another terminal: eagergraph run   (it finds this server; Ctrl-C or SIGTERM stops it)")
    process = subprocess.Popen(server_command(port, host), env=foreground_environment(url), start_new_session=True)

    def _terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, _terminate) for sig in (signal.SIGTERM, signal.SIGHUP)}
    recorded: ServerRecord | None = None
    try:
        while process.poll() is None:
            if recorded is None and healthy(url, timeout=2.0):
                home.mkdir(parents=True, exist_ok=True)
                recorded = ServerRecord(url=url, pid=process.pid, port=port, log="(foreground: this terminal)")
                write_record(home, recorded)
                try:
                    recorded = point_profile(home, recorded)
                    typer.echo(profile_line(recorded))
                except ServerError as exc:  # the server runs; only plain `prefect` commands miss it
                    typer.echo(f"{exc}; plain `prefect` commands need PREFECT_API_URL={url}", err=True)
            try:
                process.wait(timeout=1.0)
            except subprocess.TimeoutExpired:
                pass
        return process.returncode
    except KeyboardInterrupt:
        stop_group(process.pid)
        return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if recorded is not None:
            restore_profile(home, recorded)
            (home / RECORD_NAME).unlink(missing_ok=True)


@server_app.command("start")
def server_start(
    host: Host = "127.0.0.1",
    port: Port = 4200,
    background: Annotated[bool, typer.Option("--background", help="Start it in the background (what `run` does on "
                                             "first use) and return; another free port if PORT is taken.")] = False,
) -> None:
    """Start the Prefect server: in the foreground, or in the background where later runs find it."""
    if not background:
        _foreground(host, port)
    prepare_environment()
    from eagergraph.orchestration.local_server import ensure_server, running_server
    from eagergraph.orchestration.profiles import point_profile
    from eagergraph.orchestration.server_record import ServerError, prefect_home
    from eagergraph.reporting.links import ui_url

    home = prefect_home()
    try:
        record = point_profile(home, running_server(home) or ensure_server(home, port=port))
    except ServerError as exc:
        fail(str(exc))
    typer.echo(f"Prefect UI: {ui_url(record.url)}   pid {record.pid}   log {record.log}")
    typer.echo(profile_line(record))


def profile_line(record: ServerRecord) -> str:
    """What `server start` changed in the user's Prefect profile, and how it is undone."""
    return (f"Prefect profile {record.profile!r}: PREFECT_API_URL={record.url}, so plain `prefect` commands "
            "(deploy, worker start) use this server; `eagergraph server stop` puts back "
            + (f"{record.previous_api_url}" if record.previous_api_url else "no PREFECT_API_URL (as before)"))


@server_app.command("status")
def server_status() -> None:
    """Show the background server: its UI address and pid; exit status 1 when none is running."""
    prepare_environment()
    from eagergraph.orchestration.local_server import running_server
    from eagergraph.orchestration.server_record import prefect_home
    from eagergraph.reporting.links import ui_url

    home = prefect_home()
    record = running_server(home)
    if record is None:
        typer.echo(f"no local Prefect server running (PREFECT_HOME: {home})")
        raise typer.Exit(1)
    typer.echo(f"Prefect UI: {ui_url(record.url)}   pid {record.pid}   PREFECT_HOME: {home}")


@server_app.command("stop")
def server_stop() -> None:
    """Stop the background server and every process of its group."""
    prepare_environment()
    from eagergraph.orchestration.local_server import stop_server
    from eagergraph.orchestration.server_record import prefect_home

    record = stop_server(prefect_home())
    if record is None:
        typer.echo("no local Prefect server was running")
        return
    typer.echo(f"stopped the Prefect server on port {record.port} (pid {record.pid})")
    if record.profile:
        typer.echo(f"Prefect profile {record.profile!r}: PREFECT_API_URL "
                   + (f"back to {record.previous_api_url}" if record.previous_api_url else "removed, as before"))


def zombie_automation_on() -> None:
    """Heartbeats on for the runs this process starts, and the automation that crashes runs whose heartbeats stop."""
    from eagergraph.cli.terminal import reported_errors
    from eagergraph.orchestration.zombies import (
        HEARTBEAT_ENV,
        HEARTBEAT_SECONDS,
        ensure_zombie_automation,
        heartbeat_seconds,
        zombie_after,
    )

    set_prefect_environment({HEARTBEAT_ENV: os.environ.get(HEARTBEAT_ENV, str(HEARTBEAT_SECONDS))})
    with reported_errors(debugging()):
        automation_id, created = ensure_zombie_automation()
    typer.echo(f"heartbeats every {heartbeat_seconds()}s; a run silent for "
               f"{zombie_after(heartbeat_seconds()).total_seconds():.0f}s is marked Crashed "
               f"(automation {automation_id}{', created' if created else ''})")


@app.command("zombie-automation")
def zombie_automation() -> None:
    """Create (once) the automation that marks deployment runs Crashed when their heartbeats stop; `serve` does too."""
    prepare_environment()
    use_server(False)
    zombie_automation_on()

"""The Prefect server behind `eagergraph server`, and the schedule behind `eagergraph serve`."""

from __future__ import annotations

import os
import subprocess
from datetime import timedelta
from typing import Any

DEPLOYMENT_NAME = "eagergraph-scheduled"


def _foreground_environment(api: str) -> dict[str, str]:
    """The background server's environment, except that a UI API URL the user set (a proxy) is kept."""
    from eagergraph.orchestration.local_server import server_environment

    return {**server_environment(api), **{k: v for k, v in os.environ.items() if k == "PREFECT_SERVER_UI_API_URL"}}


def run_server(host: str, port: int) -> int:
    """Run `prefect server start` in the foreground until Ctrl-C or SIGTERM; its exit status.

    The server runs in its own process group, stopped as a whole on either signal: a SIGTERM (systemd,
    `docker stop`, `kill`) to this process used to leave the real server running. While it runs it is recorded
    in the Prefect home like a background server, so `eagergraph run` in another terminal finds and uses it.
    """
    import signal

    from eagergraph.orchestration.local_server import (
        RECORD_NAME,
        ServerRecord,
        api_url,
        healthy,
        prefect_home,
        server_command,
        stop_group,
        ui_url,
        write_record,
    )

    url = api_url(port, host)
    home = prefect_home()
    print(f"Prefect UI: {ui_url(url)}   PREFECT_HOME: {home}", flush=True)
    print("In another terminal: eagergraph run   (it finds this server; Ctrl-C or SIGTERM stops it)", flush=True)
    process = subprocess.Popen(server_command(port, host), env=_foreground_environment(url), start_new_session=True)

    def _terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, _terminate) for sig in (signal.SIGTERM, signal.SIGHUP)}
    recorded = False
    try:
        while process.poll() is None:
            if not recorded and healthy(url, timeout=2.0):
                home.mkdir(parents=True, exist_ok=True)
                write_record(home, ServerRecord(url=url, pid=process.pid, port=port, log="(foreground: this terminal)"))
                recorded = True
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
        if recorded:
            (home / RECORD_NAME).unlink(missing_ok=True)


def schedule(cron: str | None, interval: float | None) -> dict[str, Any]:
    """`flow.serve` keyword arguments for exactly one of a cron expression or an interval in seconds."""
    if (cron is None) == (interval is None):
        raise ValueError("give exactly one of --cron EXPR or --interval SECONDS")
    if interval is not None:
        if interval <= 0:
            raise ValueError(f"--interval must be a positive number of seconds, got {interval}")
        return {"interval": timedelta(seconds=interval)}
    from prefect.client.schemas.schedules import CronSchedule

    try:
        CronSchedule(cron=cron)
    except ValueError:
        raise ValueError(f"--cron {cron!r} is not a valid cron expression") from None
    return {"cron": cron}


def serve_pipeline(config: Any, when: dict[str, Any], name: str = DEPLOYMENT_NAME) -> None:
    """Serve the training flow as a deployment with this schedule, the config as its parameters, until stopped."""
    from eagergraph.flows.pipeline import training_pipeline

    # Scheduled runs execute in child processes; absolute paths keep them independent of a working directory.
    config = config.model_copy(update={"artifacts": config.artifacts.resolve(),
                                       "data": config.data.resolve() if config.data else None})
    from eagergraph.orchestration.naming import run_tags

    training_pipeline.serve(name=name, parameters={"config": config.model_dump(mode="json")}, tags=run_tags(config.data), **when)

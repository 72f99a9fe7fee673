"""The Prefect server behind `eagergraph server`, and the schedule behind `eagergraph serve`."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from typing import Any

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4200
DEPLOYMENT_NAME = "eagergraph-scheduled"


def api_url(host: str, port: int) -> str:
    """The API URL clients (and the UI in the browser) use; a wildcard bind is reached on the loopback."""
    reachable = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    return f"http://{reachable}:{port}/api"


def server_command(host: str, port: int) -> list[str]:
    return [sys.executable, "-m", "prefect", "server", "start", "--host", host, "--port", str(port)]


def server_environment(host: str, port: int, base: dict[str, str] | None = None) -> dict[str, str]:
    """The server's environment: the UI must call this server's API, not the default port 4200's.

    The server itself must not point at another API (PREFECT_API_URL belongs to clients).
    """
    env = dict(os.environ if base is None else base)
    env.setdefault("PREFECT_SERVER_UI_API_URL", api_url(host, port))
    env.pop("PREFECT_API_URL", None)
    return env


def run_server(host: str, port: int) -> int:
    """Run `prefect server start` in the foreground until Ctrl-C or SIGTERM; its exit status.

    The server runs in its own process group, stopped as a whole on either signal: a SIGTERM (systemd,
    `docker stop`, `kill`) to this process used to leave the real server running. While it runs it is recorded
    in the Prefect home like a background server, so `eagergraph run` in another terminal finds and uses it.
    """
    import signal

    from eagergraph.orchestration.local_server import RECORD_NAME, ServerRecord, healthy, prefect_home, stop_group, write_record

    url = api_url(host, port)
    home = prefect_home()
    print(f"Prefect UI: {url.removesuffix('/api')}   PREFECT_HOME: {home}", flush=True)
    print("In another terminal: eagergraph run   (it finds this server; Ctrl-C or SIGTERM stops it)", flush=True)
    process = subprocess.Popen(server_command(host, port), env=server_environment(host, port), start_new_session=True)

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

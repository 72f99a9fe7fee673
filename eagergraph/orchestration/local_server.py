"""The local Prefect server that stays: started in the background on first use, found and reused by later runs.

Why not `prefect server start --background`: its pid file holds the pid only (not the port), it refuses to pick
another port when 4200 is taken, and `prefect server stop` signals one process, not its group. So the server is
`prefect server start` in the foreground of its own session (process group), and a small JSON record in the
Prefect home says where it listens and which process group to stop (server_record.py). `eagergraph server start`
also points the active Prefect profile at the server (profiles.py). Nothing here imports Prefect: the CLI decides
on the server before Prefect reads its settings.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from eagergraph.io import locked
from eagergraph.orchestration.profiles import point_profile, profile_api_url, restore_profile
from eagergraph.orchestration.server_record import RECORD_NAME, ServerError, ServerRecord, prefect_home, read_record, write_record

HOST = "127.0.0.1"
DEFAULT_PORT = 4200
LOG_NAME = "eagergraph-server.log"
LOCK_NAME = "eagergraph-server.lock"  # two runs starting at once start one server
STARTUP_SECONDS = 120.0  # a new SQLite database on a busy 2-core machine takes 20 s and more
STARTUP_ATTEMPTS = 2
STOP_SECONDS = 20.0
EPHEMERAL_ENV = "EAGERGRAPH_EPHEMERAL"  # "1": Prefect's temporary per-run server, nothing left running


def ephemeral_requested() -> bool:
    return os.environ.get(EPHEMERAL_ENV, "") not in ("", "0")


def api_url(port: int, host: str = HOST) -> str:
    """The API URL clients (and the UI in the browser) use; a wildcard bind is reached on the loopback."""
    return f"http://{HOST if host in ('0.0.0.0', '::', '') else host}:{port}/api"


def port_free(port: int, host: str = HOST) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def choose_port(preferred: int = DEFAULT_PORT, host: str = HOST) -> int:
    """The preferred port when it is free, else one the kernel hands out."""
    if port_free(preferred, host):
        return preferred
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def healthy(api: str, timeout: float = 5.0) -> bool:
    import httpx

    try:
        return httpx.get(f"{api}/health", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def server_environment(api: str, base: dict[str, str] | None = None) -> dict[str, str]:
    """The server's environment: its UI calls this API (not port 4200's), no analytics, no client API URL."""
    env = dict(os.environ if base is None else base)
    env["PREFECT_SERVER_UI_API_URL"] = api
    env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    env.pop("PREFECT_API_URL", None)
    return env


def foreground_environment(api: str) -> dict[str, str]:
    """The foreground server's environment (`eagergraph server`): the background one's, except that a UI API URL
    the user set (a proxy) is kept."""
    return {**server_environment(api), **{k: v for k, v in os.environ.items() if k == "PREFECT_SERVER_UI_API_URL"}}


def server_command(port: int, host: str = HOST) -> list[str]:
    return [sys.executable, "-m", "prefect", "server", "start", "--host", host, "--port", str(port)]


def stop_group(pid: int, timeout: float = STOP_SECONDS) -> None:
    """SIGTERM a server's process group, SIGKILL it when it lingers; the group is gone when this returns.
    A pid of 0 or 1 (a damaged record) is no server's: signalling its group would hit this process's or init's."""
    if pid <= 1:
        return
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)  # reap it when it is our own child
            try:
                os.killpg(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.2)


def _wait_healthy(api: str, process: subprocess.Popen, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        if healthy(api, timeout=3.0):
            return True
        time.sleep(0.5)
    return False


def start_server(home: Path, preferred_port: int = DEFAULT_PORT, timeout: float = STARTUP_SECONDS) -> ServerRecord:
    """Start `prefect server start` in its own session, wait until it answers, record it; ServerError if not."""
    home.mkdir(parents=True, exist_ok=True)
    port = choose_port(preferred_port)
    api = api_url(port)
    log = home / LOG_NAME
    with open(log, "ab") as out:
        process = subprocess.Popen(server_command(port), env=server_environment(api), stdin=subprocess.DEVNULL,
                                   stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    if not _wait_healthy(api, process, timeout):
        stop_group(process.pid)
        raise ServerError(f"the local Prefect server on port {port} did not start within {timeout:.0f}s "
                          f"(its log: {log})")
    record = ServerRecord(url=api, pid=process.pid, port=port, log=str(log))
    write_record(home, record)
    return record


@contextlib.contextmanager
def _locked(home: Path) -> Iterator[None]:
    home.mkdir(parents=True, exist_ok=True)
    with locked(home / LOCK_NAME, 0o600):  # a second run waits here while the first starts the server
        yield


def running_server(home: Path) -> ServerRecord | None:
    """The recorded server when it answers; None when there is none or it is dead or unreachable."""
    record = read_record(home)
    if record is not None and process_alive(record.pid) and healthy(record.url):
        return record
    return None


def ensure_server(home: Path, timeout: float = STARTUP_SECONDS, attempts: int = STARTUP_ATTEMPTS,
                  port: int = DEFAULT_PORT) -> ServerRecord:
    """The recorded server if it answers; otherwise the old one is stopped and a new one started (retried once)."""
    with _locked(home):
        record = running_server(home)
        if record is not None:
            return record
        stale = read_record(home)
        if stale is not None:  # dead or not answering: replaced, not waited on
            if process_alive(stale.pid):
                stop_group(stale.pid)
            (home / RECORD_NAME).unlink(missing_ok=True)
        error: ServerError | None = None
        for _ in range(attempts):
            try:
                record = start_server(home, port, timeout=timeout)
            except ServerError as exc:
                error = exc
                continue
            # the profile pointed at the old server follows the new one (its port may differ)
            return point_profile(home, record, stale) if stale is not None and stale.profile else record
        raise ServerError(f"{error}; see the log, run `eagergraph server` in another terminal and export "
                          f"PREFECT_API_URL, or set {EPHEMERAL_ENV}=1")


def stop_server(home: Path) -> ServerRecord | None:
    """Stop the recorded background server (its whole process group) and forget it; the record, or None."""
    with _locked(home):
        record = read_record(home)
        if record is not None:
            if process_alive(record.pid):
                stop_group(record.pid)
            restore_profile(home, record)
            (home / RECORD_NAME).unlink(missing_ok=True)
        return record


STARTUP_TIMEOUT_ENV = "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"  # Prefect's, for its temporary server


def ours(home: Path, url: str) -> bool:
    """Whether `url` is the one `eagergraph server start` put in the profile (the recorded server, live or not)."""
    record = read_record(home)
    return record is not None and record.profile is not None and record.url == url


def connect(ephemeral: bool = False) -> tuple[str | None, str, dict[str, str]]:
    """Choose the server this process's Prefect client uses, before Prefect reads its settings.

    Returns (API URL or None for the temporary server, how it was chosen, the Prefect settings the caller must put
    in the environment before Prefect is imported): the user's PREFECT_API_URL (environment or profile) wins; with
    `ephemeral` (or EAGERGRAPH_EPHEMERAL=1) Prefect's temporary per-run server, given time to start on a busy
    machine; otherwise the local background server, started on first use. A profile that `eagergraph server start`
    pointed at the local server counts as the local server (restarted when it died). Raises ServerError. The
    environment is process-wide state: only the CLI writes it.
    """
    home = prefect_home()
    in_profile = profile_api_url(home)
    given = os.environ.get("PREFECT_API_URL") or (in_profile if in_profile and not ours(home, in_profile) else None)
    if given:
        return given, "configured", {}
    if ephemeral or ephemeral_requested():
        # an empty API URL overrides one in the profile, and the temporary server is allowed whatever the profile says
        return None, "temporary", {STARTUP_TIMEOUT_ENV: os.environ.get(STARTUP_TIMEOUT_ENV, str(int(STARTUP_SECONDS))),
                                   "PREFECT_SERVER_EPHEMERAL_ENABLED": "true",
                                   **({"PREFECT_API_URL": ""} if in_profile else {})}
    reused = running_server(home)
    record = reused or ensure_server(home)
    return record.url, "reused" if reused else "started", {"PREFECT_API_URL": record.url}

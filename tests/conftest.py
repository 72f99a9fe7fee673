"""Shared fixtures: one real Prefect server on a free loopback port for the whole test session."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

ROOT = Path(__file__).resolve().parents[1]
EAGERGRAPH = str(Path(sys.executable).with_name("eagergraph"))
# The stages every default run records as task runs (shared by the flow, UI and PostgreSQL tests).
STAGES = ["ingest", "normalize", "engineer-features", "check-data", "train-eager", "train-graph", "evaluate", "gate", "predict"]
AFTER_RUN = ["record-verdict"]  # once the run directory is in place: production pointer and registry


def pytest_configure(config: pytest.Config) -> None:
    """A suite started in the background (`make test &`, nohup, some CI runners) starts with SIGINT ignored, and every
    process the tests start inherits that: an `eagergraph run` or `serve` a test stops with SIGINT (Ctrl-C) would
    carry on training. Python installs its Ctrl-C handler only where SIGINT is not ignored at start; installing it
    here gives the tests' child processes SIGINT's default disposition, as a command started in a terminal has."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_healthy(url: str, process: subprocess.Popen, log: Path, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Prefect server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"Prefect server not healthy after {timeout}s:\n{log.read_text()[-3000:]}")


def start_prefect_server(home: Path, port: int, extra_env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    """A real `prefect server start` on 127.0.0.1:port over its own PREFECT_HOME; returns the process and API URL."""
    url = f"http://127.0.0.1:{port}/api"
    env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "PREFECT_SERVER_UI_API_URL": url, **(extra_env or {})}
    env.pop("PREFECT_API_URL", None)
    log = home / "server.log"
    process = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                               env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True)
    wait_healthy(url, process, log)
    return process, url


def group_alive(pid: int) -> bool:
    """Whether any process of the process group led by `pid` is still running."""
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return False
    return True


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="session")
def prefect_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The API URL of the session's Prefect server; this process and its child processes use it."""
    from prefect.settings import PREFECT_API_URL, PREFECT_HOME, temporary_settings

    home = tmp_path_factory.mktemp("prefect-home")
    process, url = start_prefect_server(home, free_port())
    os.environ["PREFECT_API_URL"] = url
    os.environ["PREFECT_HOME"] = str(home)
    try:
        with temporary_settings(updates={PREFECT_API_URL: url, PREFECT_HOME: str(home)}):
            yield url
    finally:
        os.environ.pop("PREFECT_API_URL", None)
        stop(process)


@pytest.fixture(scope="session")
def default_run(prefect_api: str, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One run of the default pipeline (synthetic data, default config) shared by the flow tests."""
    from eagergraph.config import PipelineConfig
    from eagergraph.flows.pipeline import training_pipeline

    artifacts = tmp_path_factory.mktemp("artifacts")
    return training_pipeline(PipelineConfig(artifacts=artifacts))


def forget_digests(monkeypatch: pytest.MonkeyPatch) -> None:
    """Forget every digest eagergraph.io remembers in this process (taken, loaded from a state file, or waiting to
    be saved), as a later run, a process of its own, starts without them."""
    import eagergraph.io as eio

    for name in ("_DIGESTS", "_STATES", "_PENDING"):
        monkeypatch.setattr(eio, name, {})


def count_opens(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the name of every file eagergraph.io opens from now on (hashing reads files through it)."""
    import builtins

    import eagergraph.io as eio

    opened: list[str] = []

    def counting_open(path, *args, **kwargs):
        opened.append(os.path.basename(path))
        return builtins.open(path, *args, **kwargs)

    monkeypatch.setattr(eio, "open", counting_open, raising=False)
    return opened


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the installed `eagergraph` command as a user would."""
    return subprocess.run([EAGERGRAPH, *args], cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True,
                          text=True, timeout=timeout)


def prefect_servers_under(root: Path) -> list:
    """Running `prefect server start` processes whose PREFECT_HOME lies under `root` (this session's temporary
    folder: every server a test starts gets its home there, and no other session's does)."""
    import psutil

    found = []
    for process in psutil.process_iter(["cmdline"]):
        command = process.info["cmdline"] or []
        if not {"prefect", "server", "start"} <= set(command):
            continue
        try:
            home = process.environ().get("PREFECT_HOME", "")
        except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
        if home and Path(home).resolve().is_relative_to(root):
            found.append(process)
    return found


@pytest.fixture(scope="session", autouse=True)
def no_background_server_left(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Whatever test started a background server (`eagergraph run` without PREFECT_API_URL), the session stops it:
    every home the tests give is under the session's temporary folder, so its record is found there. Set up first,
    torn down last: once every fixture has stopped its own server, a `prefect server` of this session still running
    is a leak, and fails the session loudly (after being killed, so nothing outlives it)."""
    yield
    import psutil

    from eagergraph.orchestration.local_server import stop_server
    from eagergraph.orchestration.server_record import RECORD_NAME

    root = tmp_path_factory.getbasetemp().resolve()
    for record in root.rglob(RECORD_NAME):
        stop_server(record.parent)
    _, alive = psutil.wait_procs(prefect_servers_under(root), timeout=10)  # a stopped server may still be exiting
    left = [f"pid {process.pid}: {' '.join(process.info['cmdline'])}" for process in alive]
    for process in alive:
        process.kill()
    assert not left, f"prefect server processes left running by the tests (killed now): {left}"

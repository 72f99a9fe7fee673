"""The local server that stays, as a user meets it: no PREFECT_API_URL, a home of their own (a tmp folder here)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from conftest import EAGERGRAPH, free_port, group_alive
from eagergraph.orchestration.local_server import process_alive, stop_server
from eagergraph.orchestration.server_record import RECORD_NAME, ServerRecord, write_record


def _user(*args: str, home: Path, cwd: Path, timeout: float = 400, command: tuple[str, ...] = (EAGERGRAPH,)
          ) -> subprocess.CompletedProcess:
    env = {**os.environ, "PREFECT_HOME": str(home)}
    for name in ("PREFECT_API_URL", "PREFECT_SERVER_UI_API_URL", "EAGERGRAPH_EPHEMERAL", "PREFECT_PROFILE",
                 "PREFECT_PROFILES_PATH"):
        env.pop(name, None)
    return subprocess.run([*command, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def _prefect(*args: str, home: Path, cwd: Path) -> subprocess.CompletedProcess:
    """A plain `prefect` command, as a user types it: no variable set by hand."""
    return _user("--no-prompt", *args, home=home, cwd=cwd, timeout=120, command=(sys.executable, "-m", "prefect"))



@pytest.fixture(scope="module")
def user_home(tmp_path_factory: pytest.TempPathFactory):
    """One user's Prefect home for the module's tests: the first test finds it empty (first use); the later ones find
    the database an earlier one left, as a home is after its first use, where a server starts in half the time."""
    folder = tmp_path_factory.mktemp("user") / "prefect-home"
    yield folder
    if folder.exists():
        stop_server(folder)


@pytest.fixture
def home(user_home: Path):
    """The user's Prefect home; whatever server a test starts there is stopped, pass or fail."""
    yield user_home
    if user_home.exists():
        stop_server(user_home)


def test_run_starts_a_server_that_stays_reuses_it_and_stop_leaves_nothing(home: Path, tmp_path: Path) -> None:
    home.mkdir(exist_ok=True)
    write_record(home, ServerRecord(url=f"http://127.0.0.1:{free_port()}/api", pid=2 ** 22 - 3, port=1, log="x"))  # dead
    work = tmp_path / "elsewhere"
    work.mkdir()
    first = _user("run", "--rows", "200", "--epochs", "1", "--json", home=home, cwd=work)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "(local server, started;" in first.stdout  # the dead record was replaced, not waited on
    record = json.loads((home / RECORD_NAME).read_text())
    result = json.loads(first.stdout.splitlines()[-1])  # the JSON line is the last line
    link = re.search(r"^flow run: (http://127\.0\.0\.1:(\d+)/runs/flow-run/([0-9a-f-]{36}))$", first.stdout, re.M)
    assert link and int(link.group(2)) == record["port"] and link.group(3) == result["flow_run_id"]
    assert f"run directory: {(work / 'artifacts').resolve()}/" in first.stdout and Path(result["run_dir"]).is_absolute()
    assert not (work / ".prefect").exists()  # the user's home, not the folder they ran from
    assert httpx.get(f"{record['url']}/flow_runs/{result['flow_run_id']}").json()["state"]["type"] == "COMPLETED"

    second = _user("run", "--rows", "200", "--epochs", "1", home=home, cwd=work)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "(local server, reused;" in second.stdout and json.loads((home / RECORD_NAME).read_text()) == record

    status = _user("server", "status", home=home, cwd=work)
    assert status.returncode == 0 and f"http://127.0.0.1:{record['port']}" in status.stdout
    stopped = _user("server", "stop", home=home, cwd=work)
    assert stopped.returncode == 0 and f"pid {record['pid']}" in stopped.stdout
    assert not group_alive(record["pid"]) and not (home / RECORD_NAME).exists()
    assert _user("server", "status", home=home, cwd=work).returncode == 1


def test_ephemeral_leaves_nothing_running_and_json_stays_last(home: Path, tmp_path: Path) -> None:
    done = _user("run", "--ephemeral", "--rows", "200", "--epochs", "1", "--json", home=home, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.splitlines()[-1])["flow_run_id"]  # `run --json | tail -1` parses
    assert "temporary server, now stopped" in done.stdout and not (home / RECORD_NAME).exists()


def test_help_shows_every_default() -> None:
    done = subprocess.run([EAGERGRAPH, "run", "--help"], capture_output=True, text=True)
    text = done.stdout.split("Options:")[1]
    options = [" ".join(block.split()) for block in re.split(r"\n  (?=--)", text) if block.strip() and "--help" not in block]
    assert len(options) > 20 and "<bool>" not in done.stdout
    for line in options:
        assert "[default:" in line or "(default:" in line, line
    assert "--epochs <int>" in done.stdout and "[default: 10]" in done.stdout


def test_unreachable_recorded_server_is_replaced_quickly(home: Path) -> None:
    """A recorded process that lives but does not answer is stopped, not waited on."""
    home.mkdir(exist_ok=True)
    sleeper = subprocess.Popen(["sleep", "600"], start_new_session=True)
    write_record(home, ServerRecord(url=f"http://127.0.0.1:{free_port()}/api", pid=sleeper.pid, port=1, log="x"))
    try:
        done = _user("server", "start", "--background", "--port", str(free_port()), home=home, cwd=home)
        assert done.returncode == 0, done.stderr
        sleeper.wait(timeout=30)  # stopped by eagergraph, not waited on until the start-up timeout
        record = json.loads((home / RECORD_NAME).read_text())
        assert record["pid"] != sleeper.pid and process_alive(record["pid"])
    finally:
        if sleeper.poll() is None:
            sleeper.kill()
            sleeper.wait()


def test_server_start_points_the_prefect_profile_at_it_and_stop_puts_back_the_old_value(home: Path,
                                                                                       tmp_path: Path) -> None:
    """After `eagergraph server start --background`, plain `prefect` commands use the local server (the active
    profile's PREFECT_API_URL, as `prefect config set` writes it); `server stop` puts back what the profile held,
    and the profile's other settings stay."""
    home.mkdir(exist_ok=True)
    old = f"http://127.0.0.1:{free_port()}/api"  # the user's earlier setting, a server that is not running now
    (home / "profiles.toml").write_text(f'active = "mine"\n\n[profiles.mine]\nPREFECT_API_URL = "{old}"\n'
                                        'PREFECT_LOGGING_LEVEL = "WARNING"\n')
    started = _user("server", "start", "--background", "--port", str(free_port()), home=home, cwd=tmp_path)
    assert started.returncode == 0, started.stderr[-3000:]
    record = json.loads((home / RECORD_NAME).read_text())
    assert f"Prefect profile 'mine': PREFECT_API_URL={record['url']}" in started.stdout
    view = _prefect("config", "view", home=home, cwd=tmp_path)
    assert f"PREFECT_API_URL='{record['url']}' (from profile)" in view.stdout, view.stdout + view.stderr

    pool = _prefect("work-pool", "create", "plain-pool", "--type", "process", home=home, cwd=tmp_path)
    assert pool.returncode == 0, pool.stdout[-2000:] + pool.stderr[-2000:]
    assert httpx.get(f"{record['url']}/work_pools/plain-pool").status_code == 200  # on the local server
    # eagergraph itself takes the profile's URL as its local server (reused; restarted were it dead), not a foreign one
    reused = _user("zombie-automation", home=home, cwd=tmp_path)
    assert reused.returncode == 0 and "(local server, reused;" in reused.stdout, reused.stdout + reused.stderr

    stopped = _user("server", "stop", home=home, cwd=tmp_path)
    assert stopped.returncode == 0 and f"PREFECT_API_URL back to {old}" in stopped.stdout, stopped.stdout
    view = _prefect("config", "view", home=home, cwd=tmp_path)
    assert f"PREFECT_API_URL='{old}' (from profile)" in view.stdout, view.stdout + view.stderr
    assert "PREFECT_LOGGING_LEVEL='WARNING' (from profile)" in view.stdout


def test_server_stop_leaves_a_profile_that_had_no_api_url_as_it_was(home: Path, tmp_path: Path) -> None:
    """A home with no profiles file (Prefect's defaults): `server start` writes one, `server stop` removes it."""
    home.mkdir(exist_ok=True)
    (home / "profiles.toml").unlink(missing_ok=True)
    started = _user("server", "start", "--background", "--port", str(free_port()), home=home, cwd=tmp_path)
    assert started.returncode == 0, started.stderr[-3000:]
    url = json.loads((home / RECORD_NAME).read_text())["url"]
    assert f'PREFECT_API_URL = "{url}"' in (home / "profiles.toml").read_text()
    stopped = _user("server", "stop", home=home, cwd=tmp_path)
    assert stopped.returncode == 0 and "PREFECT_API_URL removed, as before" in stopped.stdout, stopped.stdout
    assert not (home / "profiles.toml").exists()

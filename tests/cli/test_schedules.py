"""Schedules and deployments against an extra real Prefect server (the tests are about servers)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from conftest import EAGERGRAPH, ROOT, free_port, group_alive, run_cli, start_prefect_server, stop, wait_healthy
from eagergraph.orchestration.server_record import RECORD_NAME, ServerRecord, write_record
from eagergraph.rundir.paths import RunPaths, completed_runs


@pytest.fixture(scope="module")
def extra_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[subprocess.Popen, str, Path]]:
    """The module's own server: its process, API URL and Prefect home."""
    home = tmp_path_factory.mktemp("extra-prefect-home")
    process, url = start_prefect_server(home, free_port())
    try:
        yield process, url, home
    finally:
        stop(process)


@pytest.fixture(scope="module")
def extra_server(extra_process: tuple[subprocess.Popen, str, Path]) -> tuple[str, Path]:
    return extra_process[1], extra_process[2]


def _stop_group(process: subprocess.Popen, timeout: float = 30) -> None:
    """Ctrl-C to the whole process group (the runner and its flow-run processes), then SIGKILL if it lingers."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _scheduled_runs(url: str, *states: str, artifacts: Path) -> list[dict]:
    """Deployment runs in these states that write into `artifacts` (one `serve`'s runs: the killed served run of
    `killed_served_run` is on the same server)."""
    found = httpx.post(f"{url}/flow_runs/filter", json={"flow_runs": {"state": {"type": {"any_": list(states)}},
                                                                      "deployment_id": {"is_null_": False}}}).json()
    return [run for run in found if run["parameters"]["config"]["artifacts"] == str(artifacts)]


HEARTBEAT = "30"  # every `serve` on the extra server: one zombie-automation window there (a serve with another
# period would replace the automation while `killed_served_run` waits on it)


@pytest.fixture(scope="module", autouse=True)
def killed_served_run(extra_server: tuple[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A served run SIGKILLed while it trains, first thing in the module: the automation's window of silence (minutes)
    passes while the other tests run, and the test that checks the Crashed state reads when it was set.

    `serve` turns heartbeats on and creates the zombie automation; the run is killed once the server holds one of
    its heartbeats (the automation starts watching a run there), in the middle of its training."""
    url, home = extra_server
    folder = tmp_path_factory.mktemp("killed-served-run")
    env = {**os.environ, "PREFECT_API_URL": url, "PREFECT_HOME": str(home), "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": HEARTBEAT}
    log = folder / "serve.log"
    # eager training on 20,000 rows runs for minutes: long enough to be killed in the middle
    serve = subprocess.Popen([EAGERGRAPH, "serve", "--interval", "86400", "--rows", "20000", "--epochs", "20",
                              "--modes", "eager", "--artifacts", str(folder / "artifacts")], env=env,
                             stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True, cwd=folder)
    config = {"rows": 20000, "epochs": 20, "modes": "eager", "artifacts": str(folder / "artifacts")}
    run_id = running = error = None
    try:
        run_id = _start_deployment_run(url, serve, log, {"config": config})
        _wait_for(lambda: httpx.get(f"{url}/flow_runs/{run_id}").json()["state_type"] == "RUNNING", 120, serve, log)
        _wait_for(lambda: _heartbeats(url, run_id) > 0, 120, serve, log)
        running = httpx.get(f"{url}/flow_runs/{run_id}").json()["state_type"]  # asserted by the test: killed running
    except (Exception, pytest.fail.Exception) as failure:  # the test of the Crashed state reports it, not every test here
        error = failure
    finally:
        if serve.poll() is None:
            os.killpg(serve.pid, signal.SIGKILL)  # the runner and the flow run's process: no goodbye, no heartbeat
        serve.wait()
    yield {"url": url, "run_id": run_id, "running": running, "killed": time.time(), "error": error}


def test_serve_runs_the_flow_on_an_interval_schedule(extra_server: tuple[str, Path], tmp_path: Path) -> None:
    url, home = extra_server
    artifacts = tmp_path / "artifacts"
    env = {**os.environ, "PREFECT_API_URL": url, "PREFECT_HOME": str(home), "PREFECT_RUNNER_POLL_FREQUENCY": "2",
           "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": HEARTBEAT}
    log = tmp_path / "serve.log"
    # a run every 20 s: one run (about 15 s, twice that on a busy machine) seldom overlaps the next; every 10 s, up to
    # four ran at once on two cores, each slower, and stopping waited for them
    serve = subprocess.Popen([EAGERGRAPH, "serve", "--interval", "20", "--rows", "200", "--epochs", "1",
                              "--artifacts", str(artifacts)], env=env, stdout=open(log, "w"),
                             stderr=subprocess.STDOUT, start_new_session=True, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            assert serve.poll() is None, log.read_text()[-3000:]
            assert not _scheduled_runs(url, "FAILED", "CRASHED", artifacts=artifacts), log.read_text()[-3000:]
            runs = _scheduled_runs(url, "COMPLETED", artifacts=artifacts)
            if len(runs) >= 2:
                break
            time.sleep(2)
        else:
            pytest.fail(f"fewer than 2 scheduled runs completed in time:\n{log.read_text()[-3000:]}")
    finally:
        _stop_group(serve)
    deployment = httpx.get(f"{url}/deployments/{runs[0]['deployment_id']}").json()
    assert deployment["name"] == "eagergraph-scheduled"
    assert deployment["schedules"][0]["schedule"]["interval"] == 20.0
    assert deployment["parameters"]["config"]["rows"] == 200 and deployment["parameters"]["config"]["epochs"] == 1
    manifests = {json.loads(RunPaths.of(d).manifest.read_text())["flow_run_id"]: d for d in completed_runs(artifacts)}
    for run in runs:
        assert run["id"] in manifests, (run["id"], sorted(manifests))
        assert RunPaths.of(manifests[run["id"]]).metrics.is_file()


def test_serve_cron_fires_on_the_local_server_alone_and_stops_cleanly(
        extra_process: tuple[subprocess.Popen, str, Path], tmp_path: Path) -> None:
    """`serve --cron` as a user runs it: no PREFECT_API_URL, the local server recorded in their Prefect home (the
    module's server, recorded as `eagergraph server start --background` records it). The schedule fires there, no
    temporary server starts, no "ephemeral server" warning; SIGTERM stops it with its closing line, no traceback,
    and the deployment paused."""
    process, url, _ = extra_process
    home, env = _users_home(tmp_path, process, url)
    env.update(PREFECT_RUNNER_POLL_FREQUENCY="2", PREFECT_FLOWS_HEARTBEAT_FREQUENCY=HEARTBEAT)
    artifacts = tmp_path / "artifacts"
    log = tmp_path / "serve.log"
    serve = subprocess.Popen([EAGERGRAPH, "serve", "--cron", "* * * * *", "--rows", "200", "--epochs", "1",
                              "--artifacts", str(artifacts)], env=env, stdout=open(log, "w"),
                             stderr=subprocess.STDOUT, start_new_session=True, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 240  # the next whole minute, then one run of about 15 s (more when busy)
        while not (runs := _scheduled_runs(url, "COMPLETED", artifacts=artifacts)):
            assert serve.poll() is None, log.read_text()[-3000:]
            assert not _scheduled_runs(url, "FAILED", "CRASHED", artifacts=artifacts), log.read_text()[-3000:]
            if time.monotonic() > deadline:
                pytest.fail(f"no scheduled run completed in time:\n{log.read_text()[-3000:]}")
            time.sleep(2)
        serve.send_signal(signal.SIGTERM)  # to `serve` alone, as systemd or `docker stop` would
        assert serve.wait(timeout=90) == 0, log.read_text()[-3000:]
    finally:
        _stop_group(serve)
        (home / RECORD_NAME).unlink(missing_ok=True)  # the module's server is stopped by its fixture, not by cleanup
    output = log.read_text()
    assert "(local server, reused;" in output
    for unwanted in ("Starting temporary server", "ephemeral server", "Traceback"):
        assert unwanted not in output, output[-3000:]
    assert output.rstrip().endswith("stopped serving: the deployment 'eagergraph-training/eagergraph-scheduled' is "
                                    "paused (no scheduled runs while nothing serves it); the same `eagergraph serve` "
                                    "command resumes it"), output[-3000:]
    deployment = httpx.get(f"{url}/deployments/{runs[0]['deployment_id']}").json()
    assert deployment["schedules"][0]["schedule"]["cron"] == "* * * * *"
    assert deployment["paused"] is True
    assert runs[0]["auto_scheduled"]  # made by the server's scheduler from the cron schedule, not by hand


def _users_home(tmp_path: Path, process: subprocess.Popen, url: str) -> tuple[Path, dict[str, str]]:
    """A user's Prefect home whose local server is the module's (recorded as `eagergraph server start --background`
    records it), and their environment: no PREFECT_API_URL or profile choice set by hand."""
    home = tmp_path / "home"
    home.mkdir()
    write_record(home, ServerRecord(url=url, pid=process.pid, port=int(url.split(":")[2].split("/")[0]), log="test"))
    env = {**os.environ, "PREFECT_HOME": str(home)}
    for name in ("PREFECT_API_URL", "EAGERGRAPH_EPHEMERAL", "PREFECT_PROFILE", "PREFECT_PROFILES_PATH"):
        env.pop(name, None)
    return home, env


def test_prefect_yaml_deploys_and_a_worker_runs_it_with_nothing_set_by_hand(
        extra_process: tuple[subprocess.Popen, str, Path], tmp_path: Path) -> None:
    """docs/schedules.md's "Deployments and a worker", in order: `eagergraph server start --background` (it finds
    the running local server and points the Prefect profile at it), then plain `prefect` commands: the work pool,
    `prefect deploy --all`, a run of the deployment, and a worker that runs it to Completed."""
    process, url, _ = extra_process
    home, env = _users_home(tmp_path, process, url)
    try:
        started = subprocess.run([EAGERGRAPH, "server", "start", "--background"], env=env, cwd=ROOT,
                                 capture_output=True, text=True, timeout=120)
        assert started.returncode == 0 and f"PREFECT_API_URL={url}" in started.stdout, started.stdout + started.stderr
        prefect = [sys.executable, "-m", "prefect", "--no-prompt"]

        def plain(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
            done = subprocess.run([*prefect, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
            assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
            return done

        plain("work-pool", "create", "eagergraph-process", "--type", "process")
        plain("deploy", "--all")
        found = httpx.post(f"{url}/deployments/filter",
                           json={"deployments": {"name": {"any_": ["eagergraph-hourly"]}}}).json()
        assert len(found) == 1
        deployment = found[0]
        assert deployment["work_pool_name"] == "eagergraph-process"
        assert deployment["entrypoint"] == "flows/pipeline.py:training_pipeline"
        assert deployment["schedules"][0]["schedule"]["cron"] == "0 * * * *"
        assert deployment["parameters"]["config"]["epochs"] == 5
        assert deployment["pull_steps"][0]["prefect.deployments.steps.set_working_directory"]["directory"] == str(ROOT)
        scoring = httpx.post(f"{url}/deployments/filter",
                             json={"deployments": {"name": {"any_": ["eagergraph-scoring-daily"]}}}).json()
        assert [d["entrypoint"] for d in scoring] == ["flows/scoring.py:scoring_flow"]
        sweep = httpx.post(f"{url}/deployments/filter",
                           json={"deployments": {"name": {"any_": ["eagergraph-sweep-weekly"]}}}).json()
        assert [d["entrypoint"] for d in sweep] == ["flows/sweep.py:sweep_pipeline"]
        assert sweep[0]["parameters"]["sweep"]["hidden"] == [16, 32]
        assert scoring[0]["parameters"]["config"]["input"] == "incoming" and scoring[0]["work_pool_name"] == "eagergraph-process"

        artifacts = tmp_path / "artifacts"  # not the project's own artifacts folder
        config = json.dumps({"rows": 200, "epochs": 1, "artifacts": str(artifacts)})
        ran = plain("deployment", "run", "eagergraph-training/eagergraph-hourly", "--param", f"config={config}",
                    "--job-variable", f"env={json.dumps({'PREFECT_FLOWS_HEARTBEAT_FREQUENCY': HEARTBEAT})}")
        flow_run_id = re.search(r"UUID: ([0-9a-f-]{36})", ran.stdout).group(1)
        plain("worker", "start", "--pool", "eagergraph-process", "--run-once", timeout=400)
        state = httpx.get(f"{url}/flow_runs/{flow_run_id}").json()["state"]
        assert state["type"] == "COMPLETED", state
        assert [json.loads(RunPaths.of(run).manifest.read_text())["flow_run_id"]
                for run in completed_runs(artifacts)] == [flow_run_id]
    finally:
        (home / RECORD_NAME).unlink(missing_ok=True)  # the module's server is stopped by its fixture, not by cleanup


def test_eagergraph_server_serves_api_and_ui_on_its_port(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "home")}
    env.pop("PREFECT_API_URL", None)
    env.pop("PREFECT_SERVER_UI_API_URL", None)
    log = tmp_path / "server.log"
    server = subprocess.Popen([EAGERGRAPH, "server", "--port", str(port)], env=env, stdout=open(log, "w"),
                              stderr=subprocess.STDOUT, start_new_session=True, cwd=tmp_path)
    try:
        wait_healthy(f"http://127.0.0.1:{port}/api", server, log)
        # The UI in the browser asks this for its API; it must be this port, not the default 4200.
        assert httpx.get(f"http://127.0.0.1:{port}/ui-settings").json()["api_url"] == f"http://127.0.0.1:{port}/api"
        assert (tmp_path / "home").is_dir()  # the PREFECT_HOME it was given, as `eagergraph run` uses
        deadline = time.monotonic() + 15  # written once `eagergraph server` sees its server answer (polled every 1 s)
        while not (tmp_path / "home" / RECORD_NAME).exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        record = json.loads((tmp_path / "home" / RECORD_NAME).read_text())  # so `eagergraph run` finds it
        assert record["url"] == f"http://127.0.0.1:{port}/api"
        server_pid = record["pid"]
        server.send_signal(signal.SIGTERM)  # to `eagergraph server` alone, as systemd or `docker stop` would
        assert server.wait(timeout=40) == 0
        assert not group_alive(server_pid)  # the real Prefect server went with it
        assert not (tmp_path / "home" / RECORD_NAME).exists()
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2)
    finally:
        _stop_group(server)



def test_a_killed_served_run_is_marked_crashed_by_the_heartbeat_automation(killed_served_run: dict) -> None:
    """`serve` turns heartbeats on and creates the zombie automation: a served run whose process is SIGKILLed
    stops beating and the server marks it Crashed within ZOMBIE_FACTOR heartbeat periods (and a little)."""
    from eagergraph.orchestration.zombies import AUTOMATION_NAME, zombie_after

    if killed_served_run["error"] is not None:
        raise killed_served_run["error"]
    url, run_id, killed = killed_served_run["url"], killed_served_run["run_id"], killed_served_run["killed"]
    assert killed_served_run["running"] == "RUNNING"  # killed in the middle
    limit = zombie_after(int(HEARTBEAT)).total_seconds() + 60  # the documented window plus the automation's evaluation
    while (state := httpx.get(f"{url}/flow_runs/{run_id}").json()["state"])["type"] != "CRASHED":
        if time.time() - killed > limit:
            pytest.fail(f"the killed run was not marked Crashed within {limit:.0f}s: {state}")
        time.sleep(3)
    # read after the module's other tests: the state's own time says it came within the window
    assert datetime.fromisoformat(state["timestamp"]).timestamp() - killed <= limit, state["timestamp"]
    assert AUTOMATION_NAME in state["message"], state["message"]


def _heartbeats(url: str, flow_run_id: str) -> int:
    """How many heartbeat events of this flow run the server holds, read through the Prefect client."""
    from prefect import get_client
    from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter
    from prefect.settings import PREFECT_API_URL, temporary_settings

    wanted = EventFilter(event=EventNameFilter(name=["prefect.flow-run.heartbeat"]),
                         resource=EventResourceFilter(id=[f"prefect.flow-run.{flow_run_id}"]))
    with temporary_settings(updates={PREFECT_API_URL: url}), get_client(sync_client=True) as client:
        return client.read_events(filter=wanted, limit=1).total  # the server takes at most 50 a page


def _start_deployment_run(url: str, serve: subprocess.Popen, log: Path, parameters: dict) -> str:
    """Wait for `serve` to register its deployment (this serve process's: updated after it started), then start a
    run of it now with these parameters; its flow-run id."""
    started = time.time()
    found: list[dict] = []

    def registered() -> bool:
        found[:] = [d for d in httpx.post(f"{url}/deployments/filter",
                                          json={"deployments": {"name": {"any_": ["eagergraph-scheduled"]}}}).json()
                     if datetime.fromisoformat(d["updated"]).timestamp() >= started - 1]
        return bool(found)

    run_ids: list[str] = []

    def created() -> bool:
        response = httpx.post(f"{url}/deployments/{found[0]['id']}/create_flow_run", json={"parameters": parameters})
        if response.status_code >= 500:  # a server a few seconds old, busy with its first writes, may refuse one
            return False
        assert response.status_code == 201, (response.status_code, response.text[-2000:], log.read_text()[-2000:])
        run_ids.append(response.json()["id"])
        return True

    _wait_for(registered, 180, serve, log)
    _wait_for(created, 60, serve, log)
    return run_ids[0]


def _wait_for(condition, timeout: float, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()[-3000:]
        if condition():
            return
        time.sleep(1)
    pytest.fail(f"timed out after {timeout:.0f}s:\n{log.read_text()[-3000:]}")


def test_zombie_automation_command_creates_the_automation_once(prefect_api: str) -> None:
    """`eagergraph zombie-automation` against the session's server: the automation exists there afterwards, with the
    documented window, and a second call finds it instead of adding another."""
    from prefect import get_client

    from eagergraph.orchestration.zombies import AUTOMATION_NAME, HEARTBEAT_SECONDS, zombie_after

    with get_client(sync_client=True) as client:  # `serve` or `score --cron` in an earlier file may have made it
        for existing in client.read_automations_by_name(AUTOMATION_NAME):
            client.delete_automation(existing.id)
    first = run_cli("zombie-automation")
    assert first.returncode == 0, first.stderr[-3000:]
    with get_client(sync_client=True) as client:
        (automation,) = client.read_automations_by_name(AUTOMATION_NAME)
    within = zombie_after(HEARTBEAT_SECONDS)
    assert automation.enabled and automation.trigger.within == within
    assert automation.trigger.after == {"prefect.flow-run.heartbeat"}
    assert [action.type for action in automation.actions] == ["change-flow-run-state"]
    assert f"(automation {automation.id}, created)" in first.stdout
    assert f"a run silent for {within.total_seconds():.0f}s is marked Crashed" in first.stdout
    again = run_cli("zombie-automation")
    assert again.returncode == 0 and f"(automation {automation.id})" in again.stdout, again.stdout + again.stderr
    with get_client(sync_client=True) as client:
        assert [a.id for a in client.read_automations_by_name(AUTOMATION_NAME)] == [automation.id]

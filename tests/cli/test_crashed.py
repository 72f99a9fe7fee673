"""A SIGKILLed run's flow run does not stay Running: the next run marks it Crashed, and says how it knew."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import EAGERGRAPH, run_cli
from eagergraph.rundir.staging import FLOW_RUN_FILE, TMP_PREFIX


def _wait_until(found: Callable[[], Any], deadline: float, process: subprocess.Popen, log: Path, what: str) -> Any:
    """Poll until `found()` is truthy and return it; fail if the process ends first or the deadline passes."""
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the run ended before {what}:\n{log.read_text()[-2000:]}"
        value = found()
        if value:
            return value
        time.sleep(0.5)
    pytest.fail(f"{what} not seen before the deadline:\n{log.read_text()[-2000:]}")


def test_next_run_marks_a_killed_run_crashed(prefect_api: str, tmp_path: Path) -> None:
    artifacts = tmp_path / "artifacts"
    log = tmp_path / "killed.log"
    victim = subprocess.Popen([EAGERGRAPH, "run", "--epochs", "500", "--artifacts", str(artifacts)], cwd=tmp_path,
                              stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 180  # for both waits together: a run that never gets there fails the test
        recorded = _wait_until(lambda: list(artifacts.glob(f"{TMP_PREFIX}*/{FLOW_RUN_FILE}")), deadline, victim, log,
                               "the run's flow-run id file")
        flow_run_id = recorded[0].read_text().strip()
        _wait_until(lambda: "train-eager" in log.read_text(), deadline, victim, log, "the train-eager stage")
        assert httpx.get(f"{prefect_api}/flow_runs/{flow_run_id}").json()["state"]["type"] == "RUNNING"
    finally:
        os.killpg(victim.pid, signal.SIGKILL)
        victim.wait()
    assert httpx.get(f"{prefect_api}/flow_runs/{flow_run_id}").json()["state"]["type"] == "RUNNING"  # nobody told

    done = run_cli("run", "--rows", "200", "--epochs", "1", "--artifacts", str(artifacts), "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    state = httpx.get(f"{prefect_api}/flow_runs/{flow_run_id}").json()["state"]
    assert state["type"] == "CRASHED" and "abandoned" in state["message"], state
    tasks = httpx.post(f"{prefect_api}/task_runs/filter",
                       json={"flow_runs": {"id": {"any_": [flow_run_id]}}}).json()
    assert tasks and all(t["state"]["type"] in ("COMPLETED", "CRASHED") for t in tasks)
    assert any(t["state"]["type"] == "CRASHED" for t in tasks)  # the task that was running when it died
    assert not list(artifacts.glob(f"{TMP_PREFIX}*"))
    assert json.loads(done.stdout.splitlines()[-1])["flow_run_id"] != flow_run_id

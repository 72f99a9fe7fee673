"""Security: a Prefect server with basic auth refuses anonymous requests and serves authenticated runs; names
that come from the user's data never become paths; models are read with TensorFlow's loader only."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from conftest import free_port, run_cli, start_prefect_server, stop

CREDENTIALS = "eagergraph:not-a-real-secret"


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A second real server, on loopback, that demands basic auth (the one test that is about servers)."""
    home = tmp_path_factory.mktemp("auth-server")
    process, url = start_prefect_server(home, free_port(), {"PREFECT_SERVER_API_AUTH_STRING": CREDENTIALS})
    try:
        yield url
    finally:
        stop(process)


def test_server_with_auth_refuses_anonymous_and_serves_authenticated_runs(auth_server: str, tmp_path: Path) -> None:
    assert httpx.post(f"{auth_server}/flow_runs/filter", json={}).status_code == 401
    assert httpx.post(f"{auth_server}/flow_runs/filter", json={}, auth=("eagergraph", "wrong")).status_code == 401

    anonymous = run_cli("run", "--rows", "200", "--epochs", "1", "--artifacts", str(tmp_path / "a"), cwd=tmp_path,
                        env={"PREFECT_API_URL": auth_server})
    assert anonymous.returncode == 2
    assert anonymous.stderr.splitlines() == [
        f"eagergraph: error: the Prefect server at {auth_server} refused the request (401): set PREFECT_API_AUTH_STRING "
        "to the server's user:password (its PREFECT_SERVER_API_AUTH_STRING)"]
    assert not (tmp_path / "a").exists()  # refused before the run started: nothing written

    done = run_cli("run", "--rows", "200", "--epochs", "1", "--artifacts", str(tmp_path / "a"), "--json", cwd=tmp_path,
                   env={"PREFECT_API_URL": auth_server, "PREFECT_API_AUTH_STRING": CREDENTIALS})
    assert done.returncode == 0, done.stderr[-3000:]
    flow_run_id = json.loads(done.stdout.strip().splitlines()[-1])["flow_run_id"]
    user, password = CREDENTIALS.split(":")
    flow_run = httpx.get(f"{auth_server}/flow_runs/{flow_run_id}", auth=(user, password)).json()
    assert flow_run["state"]["type"] == "COMPLETED"


def test_unreachable_server_is_one_line(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}/api"
    done = run_cli("run", "--rows", "200", "--epochs", "1", "--artifacts", str(tmp_path / "a"), cwd=tmp_path,
                   env={"PREFECT_API_URL": dead})
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"eagergraph: error: cannot reach the Prefect server at {dead}")
    assert "start the local one with `eagergraph server start --background`" in line  # not a plain `prefect server start`


def test_names_from_the_data_never_become_paths(prefect_api: str, tmp_path: Path) -> None:
    """Column names and label values full of path tricks stay data: every file the run writes is in its run dir."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(200, 2))
    source = tmp_path / "input" / "tricky.csv"
    source.parent.mkdir()
    pacsv.write_csv(pa.table({"../../escaped": x[:, 0], "/tmp/abs": x[:, 1],
                              "../label": np.where(x[:, 0] + x[:, 1] > 0, "../../up", "/root")}), source)
    work = tmp_path / "work"
    work.mkdir()
    before = {p for p in tmp_path.rglob("*")}
    done = run_cli("run", "--data", str(source), "--label", "../label", "--epochs", "1", "--artifacts",
                   str(work / "artifacts"), "--json", cwd=work)
    assert done.returncode == 0, done.stderr[-3000:]
    run_dir = Path(json.loads(done.stdout.strip().splitlines()[-1])["run_dir"]).resolve()
    assert run_dir.parent == (work / "artifacts").resolve()
    new = {p for p in tmp_path.rglob("*")} - before
    outside = {p for p in new if run_dir not in p.resolve().parents and p.resolve() != run_dir}
    cache = work / "artifacts" / ".cache"  # the cached data stages' content-addressed store: names are BLAKE3 digests
    # nothing else: no `.prefect` in the folder the user runs from (PREFECT_HOME is Prefect's, one per user)
    assert {p for p in outside if cache not in p.parents
            and p != cache} == {work / "artifacts", *(work / "artifacts" / name for name in (".lock", "registry.jsonl", ".registry.lock",
                                                                              "production", ".production"))}  # `latest` and `production/tricky` resolve into the run dir
    assert all(len(p.name) in (2, 64) and set(p.name) <= set("0123456789abcdef")
               for p in (cache / "objects").rglob("*"))
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["features"] == ["../../escaped", "/tmp/abs"] and manifest["classes"] == ["../../up", "/root"]

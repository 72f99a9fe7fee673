"""A production-style server: Debian's PostgreSQL on loopback behind a real Prefect server, and a run through it."""

from __future__ import annotations

import glob
import json
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conftest import AFTER_RUN, STAGES, free_port, run_cli, start_prefect_server, stop

DB = "prefect"


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    assert found, f"PostgreSQL's {name} not found: run .ci/system-deps"
    return found[-1]


def _as_postgres(*command: str) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run its commands as the `postgres` system user."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else list(command)


@pytest.fixture
def postgres() -> Iterator[str]:
    """A throwaway PostgreSQL cluster on 127.0.0.1 (trust auth, loopback only); yields its asyncpg URL."""
    folder = Path(tempfile.mkdtemp(prefix="eagergraph-pg-"))
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(folder, user.pw_uid, user.pw_gid)
    data, port = folder / "data", free_port()
    subprocess.run(_as_postgres(_pg_bin("initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"),
                   check=True, capture_output=True, timeout=120)
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1"
    subprocess.run(_as_postgres(_pg_bin("pg_ctl"), "-D", str(data), "-o", options, "-l", str(folder / "pg.log"), "-w", "start"),
                   check=True, capture_output=True, timeout=120)
    try:
        subprocess.run(_as_postgres(_pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", DB),
                       check=True, capture_output=True, timeout=60)
        yield f"postgresql+asyncpg://postgres@127.0.0.1:{port}/{DB}"
    finally:
        subprocess.run(_as_postgres(_pg_bin("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"), capture_output=True, timeout=120)
        shutil.rmtree(folder, ignore_errors=True)


def _psql(url: str, query: str) -> str:
    port = url.rsplit(":", 1)[1].split("/")[0]
    done = subprocess.run(_as_postgres("psql", "-h", "127.0.0.1", "-p", port, "-U", "postgres", "-d", DB, "-At", "-c", query),
                          check=True, capture_output=True, text=True, timeout=60)
    return done.stdout.strip()


def test_flow_run_recorded_by_a_prefect_server_on_postgresql(postgres: str, tmp_path: Path) -> None:
    home = tmp_path / "prefect-home"
    home.mkdir()
    server, api = start_prefect_server(home, free_port(), extra_env={"PREFECT_API_DATABASE_CONNECTION_URL": postgres})
    try:
        done = run_cli("run", "--rows", "300", "--epochs", "1", "--artifacts", str(tmp_path / "artifacts"), "--json",
                       env={"PREFECT_API_URL": api, "PREFECT_HOME": str(home)})
        assert done.returncode == 0, done.stderr[-3000:]
        flow_run_id = json.loads(done.stdout.strip().splitlines()[-1])["flow_run_id"]
        assert httpx.get(f"{api}/flow_runs/{flow_run_id}").json()["state"]["type"] == "COMPLETED"
        # recorded in PostgreSQL itself, not in a SQLite file beside the server
        assert _psql(postgres, f"select state_type from flow_run where id = '{flow_run_id}'") == "COMPLETED"
        assert int(_psql(postgres, f"select count(*) from task_run where flow_run_id = '{flow_run_id}'")) == len(STAGES + AFTER_RUN)
        assert not list(home.glob("*.db"))
    finally:
        stop(server)

"""Defects of issue 19 seen as a user, through the `eagergraph` command: a refused run prints one clean error
line and no Prefect ERROR lines; `sweep` refuses the options it does not apply."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from conftest import run_cli

PREFIX = "eagergraph: error: "
DEAD_API = "http://127.0.0.1:9/api"  # nothing listens: sweep's refusals come before Prefect is contacted


def test_a_run_refused_inside_the_flow_prints_only_the_clean_line(prefect_api: str, tmp_path: Path) -> None:
    data = tmp_path / "three.csv"  # three label values for a binary task: found by ingest, inside the flow, not by the header check
    pacsv.write_csv(pa.table({"a": [float(i) for i in range(30)], "label": [i % 3 for i in range(30)]}), data)
    done = run_cli("run", "--data", str(data), "--task", "binary", "--artifacts", str(tmp_path / "artifacts"), cwd=tmp_path)
    assert done.returncode == 2, done.stderr[-2000:]
    assert done.stderr.splitlines() == [done.stderr.strip()] and done.stderr.startswith(PREFIX)
    assert "needs two label values" in done.stderr  # the message names the problem
    console = done.stdout + done.stderr
    assert "| ERROR" not in console and "DataError" not in console, console[-3000:]
    assert "View at" in done.stdout  # Prefect's other lines still show: the run's link is there


@pytest.mark.parametrize("option", [["--keep-runs", "2"], ["--modes", "graph"], ["--eager-max-steps", "10"],
                                    ["--require-promotion"]])
def test_sweep_refuses_options_it_does_not_apply(option: list[str], tmp_path: Path) -> None:
    done = run_cli("sweep", *option, "--artifacts", str(tmp_path / "a"), cwd=tmp_path, env={"PREFECT_API_URL": DEAD_API})
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert option[0] in done.stderr
    assert not (tmp_path / "a").exists()


def test_sweep_refuses_run_only_settings_in_its_config_file(tmp_path: Path) -> None:
    config = tmp_path / "run.toml"
    config.write_text("epochs = 1\nkeep_runs = 2\n")
    done = run_cli("sweep", "--config", str(config), "--artifacts", str(tmp_path / "a"), cwd=tmp_path,
                   env={"PREFECT_API_URL": DEAD_API})
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "does not apply keep_runs" in done.stderr

"""`eagergraph score` as a user runs it: bad input is one line on stderr, exit status 2, and nothing in the output
folder. Errors found before the flow starts need no Prefect server; a bad value is found by the flow's check."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import EAGERGRAPH, run_cli
from eagergraph.rundir.paths import RunPaths
from eagergraph.scoring.plan import read_scoring_log

PREFIX = "eagergraph: error: "
DEAD_API = "http://127.0.0.1:9/api"  # nothing listens there: these errors come before Prefect is contacted


@pytest.fixture(scope="module")
def place(default_run: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the default run's artifacts folder (production model `synthetic`, features x0..x9) and inputs."""
    root = tmp_path_factory.mktemp("score-cli")
    shutil.copytree(Path(default_run["run_dir"]).parent, root / "artifacts", symlinks=True)
    table = pq.read_table(RunPaths.of(default_run["run_dir"]).test_raw).slice(0, 20)
    pq.write_table(table, root / "new.parquet")
    pq.write_table(table.drop_columns(["x2", "x7"]), root / "missing.parquet")
    cells = [str(v) for v in table.column("x4").to_pylist()]
    cells[12] = "twelve"
    pq.write_table(table.set_column(table.schema.get_field_index("x4"), "x4", pa.array(cells)), root / "word.parquet")
    (root / "a-file").write_text("not a folder\n")
    (root / "empty").mkdir()
    (root / "empty" / "notes.txt").write_text("no parquet here\n")
    return root


CASES = {
    "model name without production": (["--model-name", "churn"],
                                      "artifacts: model 'churn' has no production model (models with one: synthetic)"),
    "missing feature column": (["--input", "{r}/missing.parquet"],
                               "missing.parquet: missing the model's feature column(s): x2, x7"),
    "output folder is a file": (["--output", "{r}/a-file"], "--output {r}/a-file: is a file; give a folder"),
    "input folder without parquet": (["--input", "{r}/empty"], "empty: the folder holds no Parquet files"),
}


def _argv(root: Path, extra: list[str]) -> list[str]:
    options = {"--artifacts": f"{root}/artifacts", "--input": f"{root}/new.parquet", "--output": f"{root}/out"}
    for flag, value in zip(extra[::2], extra[1::2]):
        options[flag] = value.format(r=root)
    return ["score", *(item for pair in options.items() for item in pair)]


def _one_line(done, expected: str) -> None:
    lines = done.stderr.splitlines()
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:], done.stdout[-2000:])
    assert len(lines) == 1 and lines[0].startswith(PREFIX) and expected in lines[0], done.stderr
    assert "Traceback" not in done.stdout + done.stderr


@pytest.mark.parametrize("name", CASES)
def test_bad_input_before_the_flow(name: str, place: Path) -> None:
    extra, expected = CASES[name]
    done = run_cli(*_argv(place, extra), env={"PREFECT_API_URL": DEAD_API})
    _one_line(done, expected.format(r=place))
    assert not (place / "out").exists()


def test_a_value_that_is_not_the_features_kind_names_column_and_row(place: Path, prefect_api: str) -> None:
    done = run_cli(*_argv(place, ["--input", "{r}/word.parquet"]))
    _one_line(done, "word.parquet: column x4 holds 'twelve' in row 13; the model takes a number there")
    assert not (place / "out").exists()


def _failed_runs(api: str, output: Path) -> list[dict]:
    """Deployment runs of the scoring flow into `output` that failed or crashed."""
    found = httpx.post(f"{api}/flow_runs/filter", json={"flow_runs": {
        "deployment_id": {"is_null_": False}, "state": {"type": {"any_": ["FAILED", "CRASHED"]}}}}).json()
    return [run for run in found if run["parameters"].get("config", {}).get("output") == str(output)]


def _wait_until(done, api: str, output: Path, artifacts: Path, serve: subprocess.Popen, log: Path) -> list[dict]:
    """Poll the scoring runs recorded for `output` until `done(entries)` holds (3 minutes at most)."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        assert serve.poll() is None, log.read_text()[-3000:]
        assert not _failed_runs(api, output), log.read_text()[-3000:]
        entries = [e for e in read_scoring_log(artifacts) if e["output"] == str(output)]
        if done(entries):
            return entries
        time.sleep(1)
    pytest.fail(f"the scheduled scoring runs did not get there in time:\n{log.read_text()[-3000:]}")


def _polled_after(entries: list[dict], name: str, expected: set[str]) -> bool:
    """`name` was scored, and a later run found every one of `expected` already scored."""
    scored_at = next((i for i, e in enumerate(entries) if name in e["scored"]), None)
    return scored_at is not None and any(set(e["skipped"]) >= expected for e in entries[scored_at + 1:])


def test_a_served_schedule_scores_each_new_file_of_a_folder_once(place: Path, prefect_api: str, tmp_path: Path) -> None:
    incoming, output, artifacts = tmp_path / "incoming", tmp_path / "scored", place / "artifacts"
    incoming.mkdir()  # empty when the schedule starts: a polled folder fills later
    log = tmp_path / "serve.log"
    # runs every 8 s outlast the interval on a busy two-core machine, so they overlap: the output folder's lock
    # must keep each file scored once
    serve = subprocess.Popen([EAGERGRAPH, "score", "--interval", "8", "--artifacts", str(artifacts),
                              "--input", str(incoming), "--output", str(output)],
                             env={**os.environ, "PREFECT_RUNNER_POLL_FREQUENCY": "2"}, stdout=open(log, "w"),
                             stderr=subprocess.STDOUT, start_new_session=True, cwd=tmp_path)
    try:
        _said(log, serve, "note: ")
        shutil.copy(place / "new.parquet", incoming / "day1.parquet")
        _wait_until(lambda e: _polled_after(e, "day1", {"day1"}), prefect_api, output, artifacts, serve, log)
        shutil.copy(place / "new.parquet", incoming / "day2.parquet")
        entries = _wait_until(lambda e: _polled_after(e, "day2", {"day1", "day2"}), prefect_api, output, artifacts,
                              serve, log)
    finally:
        _stop(serve)
    scored = [name for entry in entries for name in entry["scored"]]
    assert sorted(scored) == ["day1", "day2"]  # each file once, however many runs polled the folder
    assert pq.read_metadata(output / "day2.predictions.parquet").num_rows == 20
    said = log.read_text()
    assert "note: " in said and "the folder holds no Parquet files (each scheduled run checks again when it runs)" in said
    assert "a run silent for" in said and "is marked Crashed" in said  # heartbeats and the zombie automation, as serve
    assert "stopped serving: the deployment 'eagergraph-scoring/eagergraph-scoring-scheduled' is paused" in said


def _said(log: Path, serve: subprocess.Popen, text: str, timeout: float = 120) -> None:
    """Wait until the served command's output holds `text` (it is still running)."""
    deadline = time.monotonic() + timeout
    while text not in log.read_text():
        assert serve.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.2)


def _stop(serve: subprocess.Popen) -> None:
    if serve.poll() is None:
        os.killpg(serve.pid, signal.SIGINT)
        try:
            serve.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(serve.pid, signal.SIGKILL)
            serve.wait()


def test_serve_schedules_scoring_beside_training_from_a_scoring_file(place: Path, prefect_api: str,
                                                                    tmp_path: Path) -> None:
    """`eagergraph serve --scoring FILE`: one process serves the training deployment on its schedule and the scoring
    deployment on the file's; the scoring runs score the folder's file once."""
    incoming, output, artifacts = tmp_path / "incoming", tmp_path / "scored", place / "artifacts"
    incoming.mkdir()
    shutil.copy(place / "new.parquet", incoming / "day1.parquet")
    (tmp_path / "schedule.toml").write_text(  # relative paths: relative to the file
        f'[scoring]\ninput = "incoming"\noutput = "scored"\nartifacts = "{artifacts}"\ninterval = 6\n')
    log = tmp_path / "serve.log"
    serve = subprocess.Popen([EAGERGRAPH, "serve", "--cron", "0 0 1 1 *", "--artifacts", str(tmp_path / "training"),
                              "--scoring", "schedule.toml"],
                             env={**os.environ, "PREFECT_RUNNER_POLL_FREQUENCY": "2"}, stdout=open(log, "w"),
                             stderr=subprocess.STDOUT, start_new_session=True, cwd=tmp_path)
    try:
        entries = _wait_until(lambda e: _polled_after(e, "day1", {"day1"}), prefect_api, output, artifacts, serve, log)
    finally:
        _stop(serve)
    assert [name for entry in entries for name in entry["scored"]] == ["day1"]
    assert not (tmp_path / "training").exists()  # the training schedule (once a year) did not fire
    assert ("stopped serving: the deployments 'eagergraph-training/eagergraph-scheduled', "
            "'eagergraph-scoring/eagergraph-scoring-scheduled' are paused") in log.read_text()


def test_serve_refuses_a_bad_scoring_file_in_one_line(place: Path, tmp_path: Path) -> None:
    for text, expected in [('input = "x.parquet"\ninterval = 60\nartefacts = "a"\n', "unknown option 'artefacts'"),
                           (f'input = "{place}/new.parquet"\n', "give exactly one of cron EXPR, interval SECONDS")]:
        (tmp_path / "scoring.toml").write_text(text)
        done = run_cli("serve", "--cron", "0 0 1 1 *", "--scoring", str(tmp_path / "scoring.toml"),
                       env={"PREFECT_API_URL": DEAD_API})
        _one_line(done, expected)

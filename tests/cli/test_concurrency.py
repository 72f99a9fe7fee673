"""Four runs started at the same moment against one Prefect server, with the same data, config and seed:
all complete, each in its own run directory, and (TensorFlow op determinism on) they agree exactly."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx
import numpy as np
import pyarrow.parquet as pq
import pytest

from conftest import EAGERGRAPH
from eagergraph.registry.registry import read_registry
from eagergraph.rundir.paths import completed_runs
from eagergraph.rundir.staging import LATEST, TMP_PREFIX

RUNS = 4
TIMINGS = {"train_seconds", "trace_seconds", "steady_seconds", "median_step_ms", "speedup", "steady_speedup",
           "full_train_seconds",
           "gate", "data_check"}  # and the gate's verdict: each run is judged against whichever run finished first


def without_timings(metrics: dict) -> dict:
    """metrics.json minus wall-clock figures, which differ between any two runs."""
    return {key: without_timings(value) if isinstance(value, dict) else value
            for key, value in metrics.items() if key not in TIMINGS}


@pytest.fixture(scope="module")
def concurrent_runs(tmp_path_factory: pytest.TempPathFactory, prefect_api: str) -> dict:
    cwd = tmp_path_factory.mktemp("concurrent")
    artifacts = cwd / "artifacts"
    processes = [subprocess.Popen([EAGERGRAPH, "run", "--rows", "300", "--epochs", "2", "--seed", "7", "--artifacts",
                                   str(artifacts), "--json"], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for _ in range(RUNS)]
    outputs = [process.communicate(timeout=600) for process in processes]
    return {"artifacts": artifacts, "codes": [p.returncode for p in processes], "outputs": outputs}


def test_four_simultaneous_runs_all_complete_in_their_own_directories(concurrent_runs: dict, prefect_api: str) -> None:
    for code, (stdout, stderr) in zip(concurrent_runs["codes"], concurrent_runs["outputs"]):
        assert code == 0, stderr[-3000:] + stdout[-3000:]
        assert "database is locked" not in stdout + stderr
    results = [json.loads(stdout.strip().splitlines()[-1]) for stdout, _ in concurrent_runs["outputs"]]
    artifacts = concurrent_runs["artifacts"]
    run_dirs = sorted(Path(r["run_dir"]) for r in results)
    assert run_dirs == completed_runs(artifacts) and len(set(run_dirs)) == RUNS
    assert list(artifacts.glob(f"{TMP_PREFIX}*")) == []
    assert (artifacts / LATEST).resolve() in run_dirs
    assert sorted(e["run"] for e in read_registry(artifacts)) == [d.name for d in run_dirs]  # no decision lost
    for result in results:
        manifest = json.loads((Path(result["run_dir"]) / "manifest.json").read_text())
        assert manifest["flow_run_id"] == result["flow_run_id"]
        assert all((Path(result["run_dir"]) / f["path"]).is_file() for f in manifest["files"])
        state = httpx.get(f"{prefect_api}/flow_runs/{result['flow_run_id']}").json()["state"]
        assert state["type"] == "COMPLETED"


def test_same_data_config_and_seed_give_identical_metrics_and_predictions(concurrent_runs: dict) -> None:
    run_dirs = completed_runs(concurrent_runs["artifacts"])
    assert len(run_dirs) == RUNS
    metrics = [without_timings(json.loads((d / "metrics.json").read_text())) for d in run_dirs]
    assert all(m == metrics[0] for m in metrics[1:])
    predictions = [pq.read_table(d / "predictions.parquet") for d in run_dirs]
    assert all(p.equals(predictions[0]) for p in predictions[1:])
    for mode in ("eager", "graph"):
        weights = [np.load(d / "models" / f"{mode}_weights.npz") for d in run_dirs]
        for other in weights[1:]:
            assert all(np.array_equal(weights[0][k], other[k]) for k in weights[0].files)

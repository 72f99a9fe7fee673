"""Dask: the sweep and a partitioned run on a two-worker local cluster (processes, one thread each) give the
same results as the sequential run, from different worker processes."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from flows.config import PipelineConfig, SweepGrid

GRID = SweepGrid(learning_rates=[0.01, 0.05], hidden=[4, 8])  # four candidates, tiny on purpose: two shared cores


def test_sweep_on_dask_equals_sequential_sweep(prefect_api: str, tmp_path: Path) -> None:
    from flows.sweep import run_sweep
    from tasks.common import read_json
    from tasks.paths import RunPaths

    base = dict(rows=400, epochs=1, batch_size=32, graph_variant="step")
    sequential = run_sweep(PipelineConfig(artifacts=tmp_path / "threads", **base), GRID)
    parallel = run_sweep(PipelineConfig(artifacts=tmp_path / "dask", runner="dask", dask_workers=2, **base), GRID)

    assert {r["pid"] for r in sequential["ranking"]} == {os.getpid()}  # threads runner: this process, one at a time
    worker_pids = {r["pid"] for r in parallel["ranking"]}
    assert len(worker_pids) == 2 and os.getpid() not in worker_pids
    assert [r["name"] for r in parallel["ranking"]] == [r["name"] for r in sequential["ranking"]]
    assert len(parallel["ranking"]) == 4
    for a, b in zip(sequential["ranking"], parallel["ranking"]):
        for metric in ("auc", "accuracy", "loss", "final_train_loss"):
            assert a[metric] == pytest.approx(b[metric], abs=1e-6)
    # the best candidate is the run's graph model, evaluated and used for predictions like a normal run
    run = RunPaths.of(parallel["run_dir"])
    best = run.candidate(parallel["best"]["name"])
    assert (run.model("graph") / "saved_model.pb").is_file() and not run.model("eager").exists()
    with np.load(run.weights("graph")) as promoted, np.load(best.weights("graph")) as original:
        assert all(np.array_equal(promoted[k], original[k]) for k in original.files)
    metrics = read_json(run.metrics)
    assert metrics["graph"]["auc"] == pytest.approx(parallel["best"]["auc"], abs=1e-6)
    assert metrics["speedup"] is None and run.predictions.is_file()
    assert [r["name"] for r in read_json(run.sweep_ranking)] == [r["name"] for r in parallel["ranking"]]


def test_sweep_ranking_published_as_table_artifact(prefect_api: str, tmp_path: Path) -> None:
    import httpx

    from flows.sweep import run_sweep

    result = run_sweep(PipelineConfig(rows=300, epochs=1, artifacts=tmp_path), SweepGrid(hidden=[4, 8]))
    artifacts = httpx.post(f"{prefect_api}/artifacts/filter",
                           json={"artifacts": {"flow_run_id": {"any_": [result["flow_run_id"]]}, "key": {"any_": ["sweep-ranking"]}}}).json()
    assert len(artifacts) == 1 and artifacts[0]["type"] == "table"
    assert result["best"]["name"] in artifacts[0]["data"]

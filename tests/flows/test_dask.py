"""Dask: the sweep and a partitioned run on a two-worker local cluster (processes, one thread each) give the
same results as the sequential run, from different worker processes."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from eagergraph.config import PipelineConfig, SweepGrid

GRID = SweepGrid(learning_rates=[0.01, 0.05], hidden=[4, 8])  # four candidates, tiny on purpose: two shared cores


BASE = dict(rows=400, epochs=1, batch_size=32, graph_variant="step")


@pytest.fixture(scope="module")
def sequential_sweep(prefect_api: str, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The sweep of GRID on the default threads runner, once for the module."""
    from eagergraph.flows.sweep import run_sweep

    return run_sweep(PipelineConfig(artifacts=tmp_path_factory.mktemp("threads"), **BASE), GRID)


def test_sweep_on_dask_equals_sequential_sweep(sequential_sweep: dict, tmp_path: Path) -> None:
    from eagergraph.flows.sweep import run_sweep
    from eagergraph.io import read_json
    from eagergraph.rundir.paths import RunPaths

    sequential = sequential_sweep
    parallel = run_sweep(PipelineConfig(artifacts=tmp_path / "dask", runner="dask", dask_workers=2, **BASE), GRID)

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
    metrics = read_json(run.metrics)  # the best evaluated on test (it was ranked on validation: see below)
    assert metrics["graph"]["auc"] == pytest.approx(read_json(RunPaths.of(sequential["run_dir"]).metrics)["graph"]["auc"])
    assert metrics["speedup"] is None and run.predictions.is_file()
    assert [r["name"] for r in read_json(run.sweep_ranking)] == [r["name"] for r in parallel["ranking"]]


def test_sweep_ranking_published_as_table_artifact(prefect_api: str, tmp_path: Path) -> None:
    import httpx

    from eagergraph.flows.sweep import run_sweep

    # a multiclass sweep (the binary one runs above): ranked and published by its own task's metric
    result = run_sweep(PipelineConfig(rows=300, epochs=1, artifacts=tmp_path, task="multiclass"), SweepGrid(hidden=[4, 8]))
    artifacts = httpx.post(f"{prefect_api}/artifacts/filter",
                           json={"artifacts": {"flow_run_id": {"any_": [result["flow_run_id"]]}, "key": {"any_": ["sweep-ranking"]}}}).json()
    assert len(artifacts) == 1 and artifacts[0]["type"] == "table"
    assert result["best"]["name"] in artifacts[0]["data"] and "macro_auc" in artifacts[0]["data"]


def _partitions(folder: Path, sizes: tuple[int, ...] = (250, 180, 220)) -> Path:
    """A folder of Parquet partitions with a text label, like a user's exported table."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from eagergraph.data.synthetic import synthetic_batches

    folder.mkdir()
    table = pa.Table.from_batches(list(synthetic_batches(sum(sizes), 4, seed=9)))
    table = table.set_column(4, "churned", pa.array(np.where(table.column("label").to_numpy() == 1, "yes", "no")))
    start = 0
    for index, size in enumerate(sizes):
        pq.write_table(table.slice(start, size), folder / f"part-{index:03d}.parquet")
        start += size
    return folder


def test_partitioned_run_on_dask_equals_sequential_run(prefect_api: str, tmp_path: Path) -> None:
    import pyarrow.parquet as pq
    from distributed import LocalCluster

    from eagergraph.data.normalize import Normalizer, raw_split_codes
    from eagergraph.data.split import SplitRule
    from eagergraph.flows.pipeline import run_pipeline
    from eagergraph.io import read_json
    from eagergraph.rundir.paths import RunPaths

    data = _partitions(tmp_path / "table")
    base = dict(data=data, label="churned", epochs=1, batch_size=32, artifacts=tmp_path / "runs")
    sequential = run_pipeline(PipelineConfig(**base))
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        parallel = run_pipeline(PipelineConfig(runner="dask", dask_address=cluster.scheduler_address, **base))

    seq, par = RunPaths.of(sequential["run_dir"]), RunPaths.of(parallel["run_dir"])
    seq_parts, par_parts = read_json(seq.manifest)["partitions"], read_json(par.manifest)["partitions"]
    assert [p["rows"] for p in par_parts] == [250, 180, 220] and {p["pid"] for p in seq_parts} == {os.getpid()}
    assert len({p["pid"] for p in par_parts}) == 2 and os.getpid() not in {p["pid"] for p in par_parts}
    assert read_json(par.normalizer) == read_json(seq.normalizer)
    assert pq.read_table(par.raw).equals(pq.read_table(seq.raw)) and not (par.root / "raw-parts").exists()
    for mode in ("eager", "graph"):
        for metric in ("loss", "accuracy", "auc"):
            assert parallel["metrics"][mode][metric] == pytest.approx(sequential["metrics"][mode][metric], abs=1e-6)
    assert parallel["metrics"]["parity_max_abs_diff"] <= 1e-4

    # merged statistics equal one pass over all train rows of all partitions (each row's split: the recorded rule)
    normalizer = Normalizer.load(par.normalizer)
    codes = raw_split_codes(par.raw, SplitRule(**normalizer.split))
    tables = [pq.read_table(file) for file in sorted(data.glob("*.parquet"))]
    rows = np.concatenate([np.column_stack([t.column(f"x{i}").to_numpy() for i in range(4)]) for t in tables])[codes == 0]
    np.testing.assert_allclose(normalizer.mean, rows.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(normalizer.std, rows.std(axis=0), rtol=1e-12)
    assert normalizer.train_rows == len(rows) and normalizer.classes == ["no", "yes"]


def test_a_sweep_checks_data_gates_and_records_its_best_like_a_run(sequential_sweep: dict, tmp_path: Path) -> None:
    from eagergraph.flows.sweep import run_sweep
    from eagergraph.io import read_json
    from eagergraph.registry.registry import production_run, read_registry
    from eagergraph.rundir.paths import RunPaths

    first = read_json(RunPaths.of(sequential_sweep["run_dir"]).metrics)
    assert sequential_sweep["promoted"] and first["gate"]["reason"].startswith("first run: no production model yet")
    assert first["data_check"]["status"] == "no-reference"
    assert production_run(Path(sequential_sweep["run_dir"]).parent, "synthetic") == Path(sequential_sweep["run_dir"])
    artifacts = tmp_path / "artifacts"  # a copy: the module's sweep stays as the other tests read it
    shutil.copytree(Path(sequential_sweep["run_dir"]).parent, artifacts, symlinks=True)
    again = run_sweep(PipelineConfig(artifacts=artifacts, **BASE), GRID)  # scheduled again: judged against production
    gate = read_json(RunPaths.of(again["run_dir"]).metrics)["gate"]
    assert gate["production_run"] == Path(sequential_sweep["run_dir"]).name and gate["interval"]["rows"] > 0
    assert again["promoted"] and "shared test rows" in again["reason"]  # the same data and grid: the same model
    assert [e["action"] for e in read_registry(artifacts)] == ["promote", "promote"]
    assert production_run(artifacts, "synthetic") == Path(again["run_dir"])


def test_a_sweep_ranks_its_candidates_on_the_validation_rows_and_evaluates_the_best_on_test(
        sequential_sweep: dict) -> None:
    from eagergraph.io import read_json
    from eagergraph.rundir.paths import RunPaths

    run = RunPaths.of(sequential_sweep["run_dir"])
    for row in sequential_sweep["ranking"]:
        # the ranking's loss is the candidate's SavedModel on the raw validation rows: the loss its training loop
        # measured on the normalized validation split at the epoch whose weights it kept
        trained = read_json(run.candidate(row["name"]).history("graph"))
        kept = trained["history"][trained["best_epoch"] - 1]  # the epoch early stopping kept (not always the minimum)
        assert row["ranked_on"] == "validation"
        assert row["loss"] == pytest.approx(kept["val_loss"], abs=1e-5)
    best, evaluated = sequential_sweep["best"], read_json(run.metrics)["graph"]
    assert abs(evaluated["loss"] - best["loss"]) > 1e-4  # evaluate scored the best on the test rows, not these

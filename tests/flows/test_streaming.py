"""Large-data training through the flow: the split streamed from Parquet, eager bounded (the pure-core streaming
tests are in tests/model/test_train.py)."""

from __future__ import annotations

from pathlib import Path


def test_flow_streams_training_and_bounds_eager(prefect_api: str, tmp_path: Path) -> None:
    from eagergraph.config import PipelineConfig
    from eagergraph.flows.pipeline import training_pipeline
    from eagergraph.io import read_json
    from eagergraph.rundir.paths import RunPaths

    config = PipelineConfig(rows=2000, epochs=2, batch_size=64, in_memory_rows=0, eager_max_steps=5, artifacts=tmp_path)
    result = training_pipeline(config)
    run = RunPaths.of(result["run_dir"])
    metrics = read_json(run.metrics)
    eager, graph = read_json(run.history("eager")), read_json(run.history("graph"))
    assert eager["streamed"] and graph["streamed"]  # in_memory_rows=0: both read batches from Parquet
    per_epoch = -(-read_json(run.normalizer)["train_rows"] // 64)  # the train split's batches (about 70 % of 2000 rows)
    assert eager["bounded"] and eager["steps"] == 5 and eager["full_steps"] == 2 * per_epoch and 20 <= per_epoch <= 24
    assert not graph["bounded"] and graph["steps"] == 2 * per_epoch and metrics["graph"]["accuracy"] >= 0.8
    assert metrics["eager"]["bounded"] and metrics["parity_max_abs_diff"] is None
    assert metrics["speedup"] == metrics["eager"]["full_train_seconds"] / metrics["graph"]["train_seconds"]
    manifest = read_json(run.manifest)
    assert 100e6 < manifest["peak_memory_bytes"] < 3e9
    assert set(manifest["rows_per_second"]) == {"ingest", "normalize", "engineer-features"}

"""Large-data training through the flow: the split streamed from Parquet, eager bounded (the pure-core streaming
tests are in tests/unit/test_train.py)."""

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
    assert eager["bounded"] and eager["steps"] == 5 and eager["full_steps"] == 2 * 25
    assert not graph["bounded"] and graph["steps"] == 50 and metrics["graph"]["accuracy"] >= 0.8
    assert metrics["eager"]["bounded"] and metrics["parity_max_abs_diff"] is None
    assert metrics["speedup"] == metrics["eager"]["full_train_seconds"] / metrics["graph"]["train_seconds"]
    manifest = read_json(run.manifest)
    assert 100e6 < manifest["peak_memory_bytes"] < 3e9
    assert set(manifest["rows_per_second"]) == {"ingest", "normalize", "engineer-features"}


def test_cli_trains_one_mode_only(prefect_api: str, tmp_path: Path) -> None:
    import json

    from conftest import run_cli
    from eagergraph.rundir.paths import RunPaths

    done = run_cli("run", "--rows", "500", "--epochs", "1", "--modes", "graph", "--artifacts", str(tmp_path), "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(result["metrics"]) >= {"graph"} and "eager" not in result["metrics"]
    assert result["metrics"]["speedup"] is None and result["metrics"]["parity_max_abs_diff"] is None
    assert "only one mode was trained" in done.stdout
    assert not RunPaths.of(result["run_dir"]).model("eager").exists()
    assert "train-eager" not in json.loads(RunPaths.of(result["run_dir"]).manifest.read_text())["stage_seconds"]
    bad = run_cli("run", "--modes", "fast", "--artifacts", str(tmp_path))
    assert bad.returncode == 2 and "modes" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


def test_bench_data_reports_rates_and_memory_per_size() -> None:
    import json

    from conftest import run_cli

    done = run_cli("bench-data", "--rows", "2000,30000", "--n-features", "3", "--json")
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout.strip().splitlines()[-1])
    assert [r["rows"] for r in results] == [2000, 30000] and "peak memory" in done.stdout
    for r in results:
        assert set(r["rows_per_second"]) == {"ingest", "normalize", "engineer-features"}
        assert all(rate > 0 for rate in r["rows_per_second"].values())
        assert r["together_rows_per_second"] == r["rows"] / sum(r["seconds"].values())
        assert 50e6 < r["peak_memory_bytes"] < 2e9
    bad = run_cli("bench-data", "--rows", "many")
    assert bad.returncode == 2 and "--rows" in bad.stderr

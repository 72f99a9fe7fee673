"""Large-data training: batches streamed from Parquet through tf.data, same order in every mode, bounded eager."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from eagergraph.core.training import InMemorySource, ParquetSource, open_source, train_from
from eagergraph.data.io import LABEL


def _features_file(path: Path, rows: int = 300, n: int = 4, row_group: int = 70) -> Path:
    rng = np.random.default_rng(7)
    x = rng.standard_normal((rows, n)).astype(np.float32)
    y = ((x**2).sum(axis=1) > n).astype(np.int8)
    table = pa.table({**{f"f{i}": x[:, i] for i in range(n)}, LABEL: y})
    pq.write_table(table, path, row_group_size=row_group)  # several row groups, the last one short
    return path


def _batches(source, epoch: int) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(x.numpy(), y.numpy()) for x, y in source.batches(epoch)]


def test_stream_visits_every_row_once_per_epoch_in_a_seeded_order(tmp_path: Path) -> None:
    source = ParquetSource(_features_file(tmp_path / "train.parquet"), batch_size=32, seed=3)
    assert source.row_groups == 5 and source.steps_per_epoch == 10
    first = _batches(source, 0)
    assert [len(x) for x, _ in first] == [32] * 9 + [12]  # full batches across row groups, one partial at the end
    table = pq.read_table(source.path)
    rows = sorted(map(tuple, np.concatenate([x for x, _ in first]).tolist()))
    expected = sorted(map(tuple, np.column_stack([table.column(f"f{i}").to_numpy() for i in range(4)]).tolist()))
    assert rows == expected
    again = _batches(ParquetSource(source.path, batch_size=32, seed=3), 0)
    assert all(np.array_equal(a, b) for (a, _), (b, _) in zip(first, again))
    assert not np.array_equal(first[0][0], _batches(source, 1)[0][0])


def test_small_splits_stay_in_memory_large_ones_stream(tmp_path: Path) -> None:
    path = _features_file(tmp_path / "train.parquet")
    assert isinstance(open_source(path, 32, 0, in_memory_rows=300), InMemorySource)
    assert isinstance(open_source(path, 32, 0, in_memory_rows=299), ParquetSource)


@pytest.mark.parametrize("variant", ["step", "fused"])
def test_streamed_eager_and_graph_train_equal_weights(tmp_path: Path, variant: str) -> None:
    source = ParquetSource(_features_file(tmp_path / "train.parquet"), batch_size=32, seed=5)
    eager, eager_result = train_from(source, "eager", "step", epochs=2, hidden=8, learning_rate=0.01, seed=5)
    graph, graph_result = train_from(source, "graph", variant, epochs=2, hidden=8, learning_rate=0.01, seed=5)
    for we, wg in zip(eager.weights, graph.weights):
        np.testing.assert_allclose(we.numpy(), wg.numpy(), atol=1e-4, rtol=0)
    assert [h["loss"] for h in eager_result.history] == pytest.approx([h["loss"] for h in graph_result.history], abs=1e-4)
    assert graph_result.tracing_count == 1 and not graph_result.bounded


def test_bounded_eager_stops_and_extrapolates(tmp_path: Path) -> None:
    source = ParquetSource(_features_file(tmp_path / "train.parquet"), batch_size=32, seed=5)
    _, result = train_from(source, "eager", "step", epochs=2, hidden=8, learning_rate=0.01, seed=5, max_steps=13)
    assert result.bounded and result.steps == 13 and result.full_steps == 20
    assert [h["steps"] for h in result.history] == [10, 3]
    assert result.full_train_seconds > result.train_seconds


def test_flow_streams_training_and_bounds_eager(prefect_api: str, tmp_path: Path) -> None:
    from eagergraph.config import PipelineConfig
    from eagergraph.data.io import read_json
    from eagergraph.flows.pipeline import training_pipeline
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

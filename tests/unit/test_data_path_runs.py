"""The data-path benchmark runs today's data stages, and a contender that fails makes it fail (exit status 1)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
spec = importlib.util.spec_from_file_location("benchmark_data_path_runs", BENCHMARKS / "data_path.py")
data_path = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = data_path
spec.loader.exec_module(data_path)


def test_the_eagergraph_row_runs_the_stages_as_the_pipeline_calls_them(tmp_path):
    file = tmp_path / "data.parquet"
    data_path.generate(file, 3000, n_features=3, categorical=2, seed=5, block_rows=1000)
    result = data_path.child("eagergraph", file, 5)
    assert "error" not in result, result
    assert list(result["seconds"]) == ["ingest", "normalize + profile", "engineer-features"]
    assert result["total"] > 0 and result["peak_rss"] > 0


def test_a_failed_contender_is_named_and_the_exit_status_is_1(tmp_path, capsys):
    unlabeled = tmp_path / "unlabeled.parquet"
    pq.write_table(pa.table({"x0": [0.5, 1.5] * 20}), unlabeled)  # no label column: eagergraph's ingest refuses it
    status = data_path.main(["--file", str(unlabeled), "--contenders", "pyarrow,eagergraph", "--json",
                             str(tmp_path / "out.json")])
    captured = capsys.readouterr()
    assert status == 1
    assert "data_path: eagergraph failed: DataError" in captured.err and "label" in captured.err
    results = {r["contender"]: r for r in json.loads((tmp_path / "out.json").read_text())["results"]}
    assert "error" in results["eagergraph"] and "error" not in results["pyarrow"]
    file = tmp_path / "data.parquet"
    data_path.generate(file, 200, n_features=2, seed=1)
    assert data_path.main(["--file", str(file), "--contenders", "pyarrow"]) == 0

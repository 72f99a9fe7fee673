"""The CLI as a user runs it: their own CSV file, JSON output, prediction from a saved run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from conftest import run_cli
from eagergraph.rundir.paths import RunPaths


def _user_csv(path: Path, rows: int = 300) -> Path:
    rng = np.random.default_rng(11)
    tenure = rng.uniform(0, 72, rows)
    charges = rng.uniform(20, 120, rows)
    calls = rng.poisson(2, rows).astype(float)
    churn = np.where(0.04 * calls * 10 + (charges - 70) ** 2 / 900 - tenure / 30 + rng.normal(0, 0.3, rows) > 0.2, "yes", "no")
    pacsv.write_csv(pa.table({"customer": [f"c{i}" for i in range(rows)], "tenure": tenure, "charges": charges,
                              "calls": calls, "churned": churn}), path)
    return path


def test_run_on_a_user_csv_then_predict(tmp_path: Path, prefect_api: str) -> None:
    source = _user_csv(tmp_path / "customers.csv")
    done = run_cli("run", "--data", str(source), "--label", "churned", "--epochs", "3", "--graph-variant", "step", "--artifacts",
                   str(tmp_path / "artifacts"), "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert {"run_dir", "flow_run_id", "metrics"} <= set(result)
    assert "Training trace" in done.stdout and "Evaluation" in done.stdout and "first test row" in done.stdout
    run_dir = Path(result["run_dir"])
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["features"] == ["tenure", "charges", "calls"] and manifest["classes"] == ["no", "yes"]
    rows = manifest["rows"]  # each row's split comes from the rule: about 70 / 10 / 20 %
    assert rows["raw"] == 300 and rows["dropped"] == 0 and rows["train"] + rows["validation"] + rows["test"] == 300
    assert rows["validation"] > 10 and rows["test"] > 40
    assert result["rows"] == {k: rows[k] for k in ("train", "validation", "test")} and manifest["split"]["by"] == "content"
    assert len(result["metrics"]["graph"]["history"]) == 3
    assert result["metrics"]["graph_variant"] == "step" and manifest["config"]["graph_variant"] == "step"

    one = run_cli("predict", str(run_dir), "--row", "12,95.5,4", cwd=tmp_path)
    assert one.returncode == 0, one.stderr
    answer = json.loads(one.stdout)
    assert answer["predicted"] == ("yes" if answer["probability"] > 0.5 else "no")  # classes[1], "yes", is positive

    out = tmp_path / "scored.parquet"
    batch = run_cli("predict", str(run_dir / "models" / "eager"), "--input", str(source), "--output", str(out), cwd=tmp_path)
    assert batch.returncode == 0, batch.stderr
    scored = pq.read_table(out)
    assert scored.num_rows == 300 and {"probability", "predicted", "customer"} <= set(scored.column_names)
    assert scored.column("predicted").to_pylist() == ["yes" if p > 0.5 else "no" for p in scored.column("probability").to_pylist()]


def test_cli_trains_one_mode_only(prefect_api: str, tmp_path: Path) -> None:
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

"""The gate stage's logic per task on real runs: production's SavedModel reloaded from disk and scored on the new
run's test split for the new run's task, then judged in the task metric's direction."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from eagergraph.core.evaluation import evaluate_run
from eagergraph.core.gate import judge_run
from eagergraph.core.training import train_to
from eagergraph.data.ingest import ingest_to
from eagergraph.registry.gate import inputs_differ, rules_of
from eagergraph.rundir.paths import RunPaths
from runs import engineer_run, normalize_run


def _run(root: Path, name: str, source: Path, label: str, epochs: int, **options) -> tuple[Path, dict]:
    """One run directory through the real stages (graph mode only): ingest, normalize, features, train, evaluate."""
    run = root / name
    run.mkdir()
    ingest_to(RunPaths.of(run).raw, source, label, None, 0, 0, 0, **options)
    normalize_run(run, 0.25, 3)
    engineer_run(run)
    train_to(run, "graph", "step", epochs=epochs, batch_size=16, hidden=8, learning_rate=0.05, seed=1, in_memory_rows=10**6)
    return run, evaluate_run(run)


def _numbers(path: Path, n: int = 160) -> Path:
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=n), rng.normal(size=n)
    pacsv.write_csv(pa.table({"a": a, "b": b, "mpg": 20 + 4 * a - 3 * b + rng.normal(0, 0.3, n)}), path)
    return path


def test_a_worse_regression_model_is_refused_by_rmse_with_production_scored_from_disk(tmp_path: Path) -> None:
    data = _numbers(tmp_path / "cars.csv")
    good, good_metrics = _run(tmp_path, "good", data, "mpg", epochs=10, task="regression")
    poor, poor_metrics = _run(tmp_path, "poor", data, "mpg", epochs=1, task="regression")
    verdict = judge_run(poor, good, rules_of(), poor_metrics)
    assert verdict["metric"] == "rmse" and verdict["comparable"] and not verdict["promoted"]
    # production's RMSE is its own model's on this run's test split: the same split, so it equals good's evaluation
    assert verdict["production"]["rmse"] == round(good_metrics["graph"]["rmse"], 6) < verdict["candidate"]["rmse"]
    assert verdict["reason"].startswith("worse than production beyond the tolerance and the noise: rmse")
    # the paired bootstrap: both models on the same test rows, the difference's interval wholly on the worse side
    interval = verdict["interval"]
    assert interval["rows"] == len(pq.read_table(RunPaths.of(poor).test_raw)) and 0 < interval["low"] <= interval["high"]
    assert f"over {interval['rows']:,} shared test rows" in verdict["reason"]
    again = judge_run(good, poor, rules_of(), good_metrics)  # the other way round, the better one goes through
    assert again["promoted"] and "not worse than production" in again["reason"]


def test_models_that_cannot_score_each_other_are_named_not_scored() -> None:
    base = {"features": ["a", "sex"], "classes": [0, 1], "kinds": {"a": "numeric", "sex": "categorical"}, "imputed": {}}
    assert inputs_differ(base, base) is None
    assert inputs_differ({**base, "task": "regression"}, base) == "the task differs from production (binary → regression)"
    assert inputs_differ({**base, "kinds": {"a": "numeric", "sex": "numeric"}}, base) == \
        "feature kinds differ from production (sex categorical → numeric)"
    assert inputs_differ({**base, "imputed": {"a": 2.0}}, base) == \
        "production does not impute a, which this run's test split has gaps in"

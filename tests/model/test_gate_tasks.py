"""The gate stage's logic per task on real runs: production's SavedModel reloaded from disk and scored on the new
run's test split for the new run's task, then judged in the task metric's direction."""

from __future__ import annotations

import json
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


def _run(root: Path, name: str, source: Path, label: str, epochs: int, split_seed: int = 3,
         **options) -> tuple[Path, dict]:
    """One run directory through the real stages (graph mode only): ingest, normalize, features, train, evaluate."""
    run = root / name
    run.mkdir()
    ingest_to(RunPaths.of(run).raw, source, label, None, 0, 0, 0, **options)
    normalize_run(run, 0.25, split_seed)
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


def _keys(path: Path) -> set[float]:
    """The rows of a raw file by their column `a` (unique floats: a row's identity here)."""
    return set(pq.read_table(path, columns=["a"]).column("a").to_pylist())


def test_on_a_growing_table_the_gate_scores_only_rows_neither_model_trained_on(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    n = 600
    a, b = rng.normal(size=n), rng.normal(size=n)
    table = pa.table({"a": a, "b": b, "released": np.where(a - b + rng.normal(0, 0.5, n) > 0, "yes", "no")})
    part, whole = tmp_path / "part.csv", tmp_path / "whole.csv"
    pacsv.write_csv(table.slice(0, int(n * 0.8)), part)  # the first run sees 80 % of the rows, the second all
    pacsv.write_csv(table, whole)
    first, _ = _run(tmp_path, "first", part, "released", epochs=3)
    second, second_metrics = _run(tmp_path, "second", whole, "released", epochs=3)
    first_test, second_test = _keys(RunPaths.of(first).test_raw), _keys(RunPaths.of(second).test_raw)
    first_trained = _keys(RunPaths.of(first).raw) - first_test  # its train and validation rows
    assert first_test <= second_test  # every earlier test row is still a test row (kept: 100 %)
    assert not second_test & first_trained  # no row production trained or stopped on is a test row now
    verdict = judge_run(second, first, rules_of(), second_metrics)
    assert verdict["comparable"] and verdict["shared_rows"] == {"rows": len(second_test), "test_rows": len(second_test),
                                                                "note": None}
    assert f"over {len(second_test):,} shared test rows" in verdict["reason"]

    # production drew its split with another seed: only this run's test rows that were production's test rows too
    other, other_metrics = _run(tmp_path, "other", part, "released", epochs=3, split_seed=11)
    other_test = _keys(RunPaths.of(other).test_raw)
    both = other_test & first_test
    assert 0 < len(both) < len(other_test)
    verdict = judge_run(other, first, rules_of(), other_metrics)
    assert verdict["shared_rows"]["rows"] == verdict["interval"]["rows"] == len(both)
    assert f"compared on {len(both):,} of this run's {len(other_test):,} test rows" in verdict["reason"]


def test_a_production_without_a_recorded_split_rule_is_compared_on_every_test_row_and_says_so(tmp_path: Path) -> None:
    data = _numbers(tmp_path / "cars.csv")
    old, _ = _run(tmp_path, "old", data, "mpg", epochs=3, task="regression")
    normalizer = RunPaths.of(old).normalizer
    fields = json.loads(normalizer.read_text())
    normalizer.write_text(json.dumps({**fields, "split": None}))  # as a run made before the hash split wrote it
    new, new_metrics = _run(tmp_path, "new", data, "mpg", epochs=3, task="regression")
    verdict = judge_run(new, old, rules_of(), new_metrics)
    rows = len(pq.read_table(RunPaths.of(new).test_raw))
    assert verdict["comparable"] and (verdict["shared_rows"]["rows"], verdict["shared_rows"]["test_rows"]) == (rows, rows)
    assert verdict["shared_rows"]["note"].startswith("production recorded no split rule")
    assert "production recorded no split rule" in verdict["reason"] and "may have trained on" in verdict["reason"]

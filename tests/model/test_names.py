"""Derived names never collide, through the real stages: `x` beside `x_sq` trains, and a user's `probability` and
`predicted` columns are kept in the predictions beside the model's own (prefixed) outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from eagergraph.core.prediction import predict_run
from eagergraph.core.training import train_to
from eagergraph.data.ingest import ingest_to
from eagergraph.rundir.paths import RunPaths
from runs import engineer_run, normalize_run


def test_a_table_with_x_beside_x_sq_and_a_probability_column_trains_and_predicts(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    n = 200
    x, other = rng.normal(size=n), rng.normal(size=n)
    table = pa.table({"x": x, "x_sq": other, "probability": rng.uniform(size=n),
                      "predicted": [f"note {i}" for i in range(n)],  # wide text: left out, carried through
                      "label": (x * x + 0.3 * other > 1).astype(int)})
    pacsv.write_csv(table, tmp_path / "clash.csv")
    paths = RunPaths.of(tmp_path)
    ingest_to(paths.raw, tmp_path / "clash.csv", "label", None, 0, 0, 0)
    normalize_run(tmp_path, 0.25, 3)
    engineer_run(tmp_path)
    assert pq.read_schema(paths.features("train")).names == [
        "x", "x_sq", "probability", "x_sq_2", "x_sq_sq", "probability_sq", "label"]
    train_to(tmp_path, "graph", "fused", epochs=3, batch_size=16, hidden=8, learning_rate=0.05, seed=1,
             in_memory_rows=10**6, patience=3)
    result = predict_run(tmp_path)
    predictions = pq.read_table(paths.predictions)
    assert predictions.column_names == ["predicted", "x", "x_sq", "probability", "label", "model_predicted",
                                        "model_probability"]
    raw = pq.read_table(paths.test_raw)
    assert predictions.column("probability").to_pylist() == raw.column("probability").to_pylist()  # the user's
    assert predictions.column("predicted").to_pylist() == raw.column("predicted").to_pylist()
    assert 0.0 <= result["example"]["probability"] <= 1.0 and result["example"]["predicted"] in (0, 1)


def test_an_imputed_age_beside_a_user_age_missing_column_trains_and_predicts(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    n = 240
    age, flag = rng.normal(40, 10, size=n), rng.normal(size=n)
    label = ((age - 40) / 10 + flag > 0).astype(int)
    table = pa.table({"age": pa.array(np.where(np.arange(n) % 7 == 0, np.nan, age), from_pandas=True),
                      "age_missing": flag, "label": label})
    pacsv.write_csv(table, tmp_path / "ages.csv")
    paths = RunPaths.of(tmp_path)
    ingest_to(paths.raw, tmp_path / "ages.csv", "label", None, 0, 0, 0, impute="mean")
    normalize_run(tmp_path, 0.25, 3)
    assert pq.read_schema(paths.normalized("train")).names == ["age", "age_missing", "age_missing_2", "label"]
    engineer_run(tmp_path)
    names = pq.read_schema(paths.features("train")).names
    assert names == ["age", "age_missing", "age_sq", "age_missing_sq", "age_missing_2", "label"]
    # the user's column is its own values standardized, the indicator the gaps: never the one for the other
    normalized = pq.read_table(paths.normalized("train"))
    assert set(normalized.column("age_missing_2").to_numpy()) == {0.0, 1.0}
    assert len(set(normalized.column("age_missing").to_numpy())) > 100
    train_to(tmp_path, "graph", "fused", epochs=3, batch_size=16, hidden=8, learning_rate=0.05, seed=1,
             in_memory_rows=10**6, patience=3)
    predict_run(tmp_path)
    predictions = pq.read_table(paths.predictions)
    assert predictions.num_rows == pq.read_metadata(paths.test_raw).num_rows
    assert predictions.column("age_missing").to_pylist() == pq.read_table(paths.test_raw).column("age_missing").to_pylist()

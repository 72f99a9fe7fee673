"""Pure functions behind the user's own data (issue 13): missing labels, column choice, the positive class,
passthrough columns, float64 metrics, row parsing, run names."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from eagergraph.accumulators import binary_metrics
from eagergraph.auc import roc_auc
from eagergraph.core.outputs import output_names, prediction_table
from eagergraph.core.rows import parse_row, row_columns
from eagergraph.core.serving_inputs import ModelInputs
from eagergraph.data.ingest import ingest_to, select_from
from eagergraph.data.io import LABEL
from eagergraph.data.labels import label_missing, order_classes
from eagergraph.data.partitions import ingest_partition_to, merge_partitions_to
from eagergraph.errors import DataError
from eagergraph.orchestration.naming import data_name, run_name, run_tags
from eagergraph.rundir.paths import RunPaths
from runs import normalize_run, split_files


def _export(n: int = 40) -> pa.Table:
    rng = np.random.default_rng(1)
    return pa.table({"id": pa.array(rng.permutation(n) + 500), "day": pa.array([f"2024-01-{i % 28 + 1:02d}" for i in range(n)]),
                     "x": rng.normal(0, 1, n), "calls": pa.array([i % 5 for i in range(n)]), "leak": rng.normal(0, 1, n),
                     "y": pa.array(["" if i in (3, 11) else ("no" if i % 2 else "yes") for i in range(n)])})


def choose(dataset: ds.Dataset, label: str, features: list[str] | None, exclude: list[str] | None, where: Path):
    return select_from(dataset, where, label, features, exclude, None, 50)[0]


def test_empty_null_and_nan_labels_are_missing() -> None:
    assert label_missing(pa.array(["yes", "", "  ", None, "no"])).tolist() == [False, True, True, True, False]
    assert label_missing(pa.array([1.0, float("nan"), None, 0.0])).tolist() == [False, True, True, False]
    assert label_missing(pa.array([1, None, 0])).tolist() == [False, True, False]


def test_ids_are_set_aside_unless_named_and_exclusions_recorded() -> None:
    dataset = ds.dataset(_export())
    chosen = choose(dataset, "y", None, ["leak"], Path("e.csv"))
    assert chosen.features == ["x", "calls"]  # calls repeats values: not an id
    assert chosen.left_out == {"id": "looks like an id", "day": "date/time", "leak": "excluded", "y": "the label"}
    assert chosen.passthrough == ["id", "day", "leak"]
    named = choose(dataset, "y", ["id", "x"], None, Path("e.csv"))
    assert named.features == ["id", "x"] and named.left_out["calls"] == "not in --features"
    with pytest.raises(DataError, match=r"--exclude names unknown column\(s\): nope; columns are: id, day"):
        choose(dataset, "y", None, ["nope"], Path("e.csv"))
    with pytest.raises(DataError, match="both in --features and --exclude: x"):
        choose(dataset, "y", ["x"], ["x"], Path("e.csv"))


def test_positive_class_defaults_to_the_larger_value_or_is_named() -> None:
    assert order_classes(["yes", "no"], None, "y", "f") == ["no", "yes"]
    assert order_classes(["yes", "no"], "no", "y", "f") == ["yes", "no"]
    assert order_classes([0, 1], "0", "y", "f") == [1, 0]
    assert order_classes([False, True], "false", "y", "f") == [True, False]
    with pytest.raises(DataError, match="--positive-class 'maybe' is not a value of label column 'y'; its values are: no, yes"):
        order_classes(["no", "yes"], "maybe", "y", "f")


def test_ingest_drops_missing_labels_encodes_the_positive_class_and_passes_columns_through(tmp_path: Path) -> None:
    source = tmp_path / "e.parquet"
    pq.write_table(_export(), source)
    with pytest.raises(DataError, match=r"missing, NaN or infinite values \(y: 2\); fix them or pass --drop-invalid"):
        ingest_to(tmp_path / "raw.parquet", source, "y", None, 0, 0, 0)
    run = RunPaths.of(tmp_path / "run")
    result = ingest_to(run.raw, source, "y", None, 0, 0, 0, drop_invalid=True, exclude=["leak"], positive_class="no")
    assert result["dropped_rows"] == 2 and result["invalid_values"] == {"y": 2} and result["classes"] == ["yes", "no"]
    raw = pq.read_table(run.raw)
    assert raw.column_names == ["x", "calls", LABEL, "id", "day", "leak"]
    expected = [int(v == "no") for v in _export().column("y").to_pylist() if v]
    assert raw.column(LABEL).to_pylist() == expected
    normalize_run(run.root, 0.25, seed=0)
    test_raw = pq.read_table(run.test_raw)
    assert test_raw.column_names == raw.column_names  # the passthrough columns reach the raw test split
    by_id = {r["id"]: r for r in raw.to_pylist()}
    assert all(by_id[r["id"]] == r for r in test_raw.to_pylist())  # row-aligned with their features and label
    assert pq.read_table(run.normalized("test")).column_names == ["x", "calls", LABEL]


def test_partitions_drop_and_count_missing_labels(tmp_path: Path) -> None:
    folder = tmp_path / "parts"
    folder.mkdir()
    table = _export()
    pq.write_table(table.slice(0, 20), folder / "part-0.parquet")
    pq.write_table(table.slice(20), folder / "part-1.parquet")
    run = RunPaths.of(tmp_path / "run")
    parts = [ingest_partition_to(run.raw_part(i), folder, str(folder / f"part-{i}.parquet"), i, "y", None,
                                 drop_invalid=True, exclude=["leak"]) for i in range(2)]
    merged = merge_partitions_to(run.raw, [run.raw_part(p["index"]) for p in parts], split_files(run.root), parts, folder, "y",
                                 True, positive_class="no")
    assert merged["dropped_rows"] == 2 and merged["invalid_values"] == {"y": 2} and merged["rows"] == 38
    assert merged["classes"] == ["yes", "no"] and merged["left_out"]["id"] == "looks like an id"
    assert pq.read_table(run.test_raw).column_names == ["x", "calls", LABEL, "id", "day", "leak"]
    kept = [ingest_partition_to(run.raw_part(i), folder, str(folder / f"part-{i}.parquet"), i, "y", None)
            for i in range(2)]
    with pytest.raises(DataError, match=r"missing, NaN or infinite values \(y: 2\); fix them or pass --drop-invalid"):
        refused = tmp_path / "refused"
        merge_partitions_to(refused / "raw.parquet", [run.raw_part(i) for i in range(2)], split_files(refused), kept, folder, "y",
                            False)


def _pairwise_auc(y: np.ndarray, p: np.ndarray) -> float:
    """The AUC by its definition: the share of (positive, negative) pairs ranked right, ties half."""
    pos, neg = p[y == 1].astype(np.float64), p[y == 0].astype(np.float64)
    return float(np.mean([(a > b) + 0.5 * (a == b) for a in pos for b in neg]))


def test_metrics_are_float64_and_clipped(monkeypatch: pytest.MonkeyPatch) -> None:
    y = np.array([0, 0, 1, 1, 1])
    p = np.array([0.1, 0.4, 0.35, 0.8, 1.0000001], dtype=np.float32)  # a float32 probability just past 1
    m = binary_metrics(y, p)
    assert m["auc"] == pytest.approx(_pairwise_auc(y, p)) == pytest.approx(5 / 6)
    assert m["precision"] == 1.0 and m["recall"] == pytest.approx(2 / 3) and m["accuracy"] == pytest.approx(0.8)
    perfect = binary_metrics(np.array([0, 1] * 500), np.array([0.01, 0.99] * 500, dtype=np.float32))
    assert perfect["auc"] == 1.0 and perfect["accuracy"] == 1.0 and perfect["loss"] > 0
    assert roc_auc(np.array([True, False]), np.array([0.5, 0.5])) == 0.5  # ties count half
    assert json.loads(json.dumps(m)) == m
    # Confidently wrong probabilities at and past the ends (1.0000001, -1e-7) would make the loss infinite: it is
    # Keras's clipped cross-entropy instead, -log(1e-7) per row.
    wrong = binary_metrics(np.array([0, 1]), np.array([1.0000001, -1e-7], dtype=np.float32))
    assert np.isfinite(wrong["loss"]) and wrong["loss"] == pytest.approx(-np.log(1e-7), rel=1e-6)
    assert wrong["accuracy"] == 0.0 and wrong["precision"] == 0.0 and wrong["recall"] == 0.0
    # A score summed in float32 drifts past 1 (ten shares of 0.1 added in turn make 1.0000001): clipped to 1.
    drifted = float(np.cumsum(np.full(10, 0.1, dtype=np.float32))[-1])
    assert drifted > 1.0
    monkeypatch.setattr("eagergraph.auc.AucCounts.auc", lambda counts: drifted)
    assert binary_metrics(np.array([0, 1]), np.array([0.2, 0.9]))["auc"] == 1.0


def test_prediction_table_uses_the_user_classes_and_leaves_gaps_empty() -> None:
    table = pa.table({"id": [7, 8, 9], "x": [1.0, None, 2.0], "probability": [0.0, 0.0, 0.0]})
    out = prediction_table(table, np.array([0.9, np.nan, 0.2]), ["yes", "no"])
    # A user's own probability column is kept as it is; the model's outputs take a prefix beside it.
    assert out.column_names == ["id", "x", "probability", "model_predicted", "model_probability"]
    assert out.column("probability").to_pylist() == [0.0, 0.0, 0.0]
    assert out.column("model_predicted").to_pylist() == ["no", None, "yes"]
    assert out.column("model_probability").to_pylist() == [0.9, None, 0.2]
    plain = prediction_table(table.drop_columns(["probability"]), np.array([0.9, np.nan, 0.2]), ["yes", "no"])
    assert plain.column_names == ["id", "x", "predicted", "probability"]  # no clash: the plain names


def _numeric_row(text: str, features: list[str]) -> dict[str, np.ndarray]:
    inputs = ModelInputs.of({"features": features, "classes": [0, 1]})  # an old model's info: numbers, no imputation
    return row_columns(parse_row(text, features), inputs, "--row")


@pytest.mark.parametrize("text, message", [
    ("14.2,1.7,,1065,1.04", "--row: field 3 (c) is empty; the model takes 5 features in this order: a, b, c, d, e"),
    ("14.2,1.7,1065,1.04", "--row: 4 values given, the model takes 5 features in this order: a, b, c, d, e"),
    ("14.2,1.7,x,1065,1.04", "--row: 'x' is not a number: field 3 (c)"),
    ("14.2,1.7,3,inf,1.04", "--row: NaN or infinite values cannot be predicted: field 4 (d) is 'inf'"),
])
def test_row_errors_point_at_the_field(text: str, message: str) -> None:
    with pytest.raises(DataError) as error:
        _numeric_row(text, ["a", "b", "c", "d", "e"])
    assert message in str(error.value)


def test_row_parses_in_feature_order() -> None:
    assert {k: v.tolist() for k, v in _numeric_row(" 1, 2.5 ,-3", ["a", "b", "c"]).items()} == {"a": [1.0], "b": [2.5], "c": [-3.0]}


def test_run_names_and_tags_name_the_data(tmp_path: Path) -> None:
    when = datetime(2026, 11, 25, 12, 30, 59, tzinfo=timezone.utc)
    assert run_name("data/customers.csv", when) == "customers-20261125T1230"
    assert run_name(None, when) == "synthetic-20261125T1230"
    assert data_name(tmp_path) == tmp_path.name  # a folder of partitions
    assert run_tags("data/customers.csv") == ["eagergraph", "data:customers.csv"]
    assert run_tags(None) == ["eagergraph", "data:synthetic"]


def test_when_every_numeric_column_looks_like_an_id_they_are_the_features() -> None:
    dataset = ds.dataset(pa.table({"a": list(range(6)), "label": [0, 1] * 3}))
    assert choose(dataset, "label", None, None, Path("few.csv")).features == ["a"]


def test_model_outputs_take_a_prefix_only_beside_a_clashing_column() -> None:
    classes = ["Adelie", "Gentoo"]
    assert output_names(["id", "bill"], classes, "multiclass") == {
        "predicted": "predicted", "probability": "probability", "probability_Adelie": "probability_Adelie",
        "probability_Gentoo": "probability_Gentoo"}
    clash = output_names(["probability_Gentoo", "model_predicted"], classes, "multiclass")
    assert clash["probability_Gentoo"] == "model_model_probability_Gentoo"  # model_ alone would clash too
    assert output_names(["predicted"], [], "regression") == {"predicted": "model_predicted"}

"""The exported SavedModel takes the raw columns (numbers and text) and does the whole preprocessing itself."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import keras
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import tensorflow as tf

from eagergraph.accumulators import binary_metrics
from eagergraph.core.evaluation import score_blocks
from eagergraph.core.export import export_model, load_serving
from eagergraph.core.serving_inputs import (
    ModelInputs,
    NotANumber,
    preprocessing_of,
    read_preprocessing,
    serving_columns,
    signature_names,
    unpredictable,
    unseen_counts,
)
from eagergraph.data.preprocessing import preprocess
from eagergraph.rundir.paths import model_info_file
from serving_reference import N_INPUTS, NORMALIZER, reference_encode, tiny_model


def raw_table() -> pa.Table:
    """Raw columns in their own types, with every case: an imputed gap, an unseen value, missing and blank text,
    whitespace around text, integers and booleans that the vocabulary holds as text."""
    return pa.table({
        "id": ["a", "b", "c", "d", "e", "f"],
        "age": [22.0, None, 35.0, float("nan"), 60.0, 41.0],
        "fare": [7.25, 71.3, 8.05, 53.1, 13.0, 30.5],
        "sex": ["male", "female", " female ", "other", None, "male"],
        "home town": ["Paris, TX", "Oslo", "", "   ", "Quito", "Lima"],
        "pclass": pa.array([3, 1, 3, 2, 7, 1], pa.int64()),
        "alone": [True, False, None, True, False, True],
    })


def reference_columns(table: pa.Table) -> dict[str, np.ndarray]:
    """The raw table as the numpy reference takes it: numbers with NaN, text with None (computed independently of
    the code under test: plain Python conversions)."""
    as_text = {bool: lambda v: "true" if v else "false", int: str, str: lambda v: v}
    columns = {}
    for name in NORMALIZER["features"]:
        values = table.column(name).to_pylist()
        if name in ("age", "fare"):
            columns[name] = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
        else:
            columns[name] = np.array([None if v is None else as_text[type(v)](v) for v in values], dtype=object)
    return columns


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[keras.Model, Path]:
    model = tiny_model(N_INPUTS)
    path = export_model(model, NORMALIZER, tmp_path_factory.mktemp("export") / "model")
    return model, path


def test_saved_model_on_raw_columns_equals_keras_on_the_reference_encoding(exported: tuple[keras.Model, Path]) -> None:
    model, path = exported
    table = raw_table()
    expected = model(reference_encode(reference_columns(table), NORMALIZER), training=False).numpy()
    info = json.loads(model_info_file(path).read_text())
    signature = tf.saved_model.load(str(path)).signatures["serving_default"]
    feeds = {info["inputs"]["age"]: tf.constant(table.column("age").to_numpy(zero_copy_only=False).astype(np.float64)),
             info["inputs"]["fare"]: tf.constant(table.column("fare").to_numpy()),
             info["inputs"]["sex"]: tf.constant(["male", "female", " female ", "other", "", "male"]),
             info["inputs"]["home town"]: tf.constant(["Paris, TX", "Oslo", "", "   ", "Quito", "Lima"]),
             info["inputs"]["pclass"]: tf.constant(["3", "1", "3", "2", "7", "1"]),
             info["inputs"]["alone"]: tf.constant(["true", "false", "", "true", "false", "true"])}
    served = signature(**feeds)["probability"].numpy()
    assert served.shape == (6, 1) and float(np.std(served)) > 0.01  # varied, real probabilities
    np.testing.assert_allclose(served, expected, atol=1e-6, rtol=0)
    # the same through load_serving, from the table in its own types (ints, booleans, nulls)
    np.testing.assert_allclose(load_serving(path)(table), expected, atol=1e-6, rtol=0)


def test_every_input_slot_is_reached(exported: tuple[keras.Model, Path]) -> None:
    """The reference encoding of the test table sets the imputed indicator and a trained missing slot, and meets
    an unseen value and a missing cell of a column trained without any: the equality above covers them all (a test
    table that missed a case would compare nothing there)."""
    encoded = reference_encode(reference_columns(raw_table()), NORMALIZER)
    assert encoded.shape == (6, N_INPUTS)
    assert encoded[:, 4].tolist() == [0, 1, 0, 1, 0, 0]  # age's missing indicator: null and NaN
    sex = encoded[:, 5:9]  # trained without missing cells: "other" (unseen) and None (missing) activate no slot
    assert sex.sum(axis=1).tolist() == [1, 1, 1, 0, 0, 1] and not sex[:, 2:].any()
    town = encoded[:, 9:14]  # trained with missing cells: "" and "   " take the missing slot; "Quito" (unseen) none
    assert town[:, 4].tolist() == [0, 0, 1, 1, 0, 0] and town.sum(axis=1).tolist() == [1, 1, 1, 1, 0, 1]
    assert not town[:, 3].any()


def test_signature_takes_one_named_raw_column_each(exported: tuple[keras.Model, Path]) -> None:
    _, path = exported
    info = json.loads(model_info_file(path).read_text())
    assert info["inputs"] == {"age": "age", "fare": "fare", "sex": "sex", "home town": "home_town", "pclass": "pclass",
                              "alone": "alone"}
    assert info["kinds"]["home town"] == "categorical" and info["kinds"]["age"] == "numeric"
    assert info["vocabularies"]["pclass"] == ["3", "1", "2"] and info["imputed"] == {"age": 28.0}
    assert info["classes"] == ["no", "yes"] and info["positive_class"] == "yes"
    _, specs = tf.saved_model.load(str(path)).signatures["serving_default"].structured_input_signature
    assert {name: (spec.dtype, spec.shape.as_list()) for name, spec in specs.items()} == {
        "age": (tf.float64, [None]), "fare": (tf.float64, [None]), "sex": (tf.string, [None]),
        "home_town": (tf.string, [None]), "pclass": (tf.string, [None]), "alone": (tf.string, [None])}


def test_a_gap_in_a_column_without_imputation_is_not_predicted(exported: tuple[keras.Model, Path]) -> None:
    _, path = exported
    table = raw_table().set_column(2, "fare", pa.array([7.25, None, 8.05, 53.1, 13.0, 30.5]))
    served = load_serving(path)(table).reshape(-1)
    assert np.isnan(served[1]) and np.isfinite(np.delete(served, 1)).all()


def test_signature_names_are_valid_and_distinct() -> None:
    names = signature_names(["home town", "home_town", "2nd class", "ñandú", "Age", "age", ""])
    assert names == {"home town": "home_town", "home_town": "home_town_2", "2nd class": "c_2nd_class",
                     "ñandú": "c__and_", "Age": "Age", "age": "age", "": "c_"}


def _export_matrix_model(model: keras.Model, features: list[str], mean: list[float], std: list[float], path: Path) -> Path:
    """A model exported the way eagergraph did before raw-column signatures: one float32 `features` matrix."""
    mean_t, std_t = tf.constant(mean, tf.float64), tf.constant(std, tf.float64)

    def serve(x: tf.Tensor) -> dict[str, tf.Tensor]:
        inputs = preprocess(tf.cast(x, tf.float64), mean_t, std_t, partial(tf.concat, axis=1), lambda z: tf.cast(z, tf.float32),
                            tf.clip_by_value)
        return {"probability": model(inputs, training=False)}

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(name="serving_default", fn=serve,
                         input_signature=[tf.TensorSpec([None, len(features)], tf.float32, name="features")])
    archive.write_out(str(path), verbose=False)
    model_info_file(path).parent.mkdir(parents=True, exist_ok=True)
    model_info_file(path).write_text(json.dumps({"features": features, "classes": [0, 1], "positive_class": 1}))
    return path


def test_a_model_with_the_old_matrix_signature_still_scores_raw_tables(tmp_path: Path) -> None:
    model = tiny_model(4)
    mean, std = [10.0, -3.0], [2.0, 0.5]
    path = _export_matrix_model(model, ["x0", "x1"], mean, std, tmp_path / "old")
    table = pa.table({"id": [1, 2, 3], "x1": [-3.5, -2.0, -3.0], "x0": [9.0, 14.0, 10.5]})  # columns in another order
    x = np.column_stack([table.column("x0").to_numpy(), table.column("x1").to_numpy()])
    z = ((x - mean) / std).astype(np.float32)
    expected = model(np.concatenate([z, z * z], axis=1), training=False).numpy()
    served = load_serving(path)(table)
    assert float(np.std(served)) > 0.01
    np.testing.assert_allclose(served, expected, atol=1e-6, rtol=0)


def test_an_old_normalizer_is_all_numeric_without_imputation(tmp_path: Path) -> None:
    old = {"features": ["a", "b"], "mean": [1.0, 2.0], "std": [3.0, 4.0], "classes": [0, 1], "train_rows": 8, "test_rows": 2}
    (tmp_path / "normalizer.json").write_text(json.dumps(old))
    prep = read_preprocessing(tmp_path / "normalizer.json")
    assert [(c.name, c.mean, c.std, c.impute) for c in prep.numeric] == [("a", 1.0, 3.0, None), ("b", 2.0, 4.0, None)]
    assert prep.categorical == [] and prep.features == ["a", "b"] and prep.classes == [0, 1]
    new = preprocessing_of(NORMALIZER)
    assert [c.impute for c in new.numeric] == [28.0, None] and new.categorical[1].vocabulary == ["Paris, TX", "Oslo", "Lima"]


def _inputs() -> ModelInputs:
    return ModelInputs.of({"features": ["n", "m", "c", "b", "k"], "inputs": {"n": "n", "m": "m", "c": "c", "b": "b", "k": "k"},
                           "kinds": {"n": "numeric", "m": "numeric", "c": "categorical", "b": "categorical", "k": "categorical"},
                           "vocabularies": {"c": ["x", "y"], "b": ["true", "false"], "k": ["3", "10"]},
                           "imputed": {"m": 0.0}, "classes": [0, 1]})


def test_raw_columns_become_the_contracts_canonical_inputs() -> None:
    table = pa.table({"n": [" 3.5", "", "?", " NA ", "1e3"], "m": [1.0, None, float("nan"), float("inf"), 2.0],
                      "c": [" x", "NULL", None, "z", "y "], "b": ["True", " ", "false", "FALSE", None],
                      "k": pa.array([3, 10, None, 4, 3], pa.int32())})
    columns = serving_columns(table, _inputs(), "data.csv")
    np.testing.assert_array_equal(columns["n"], [3.5, np.nan, np.nan, np.nan, 1000.0])
    np.testing.assert_array_equal(columns["m"], [1.0, np.nan, np.nan, np.inf, 2.0])
    assert columns["c"].tolist() == ["x", "", "", "z", "y"]
    assert columns["b"].tolist() == ["true", "", "false", "false", ""]  # booleans read as text, as trained
    assert columns["k"].tolist() == ["3", "10", "", "4", "3"]
    assert unseen_counts(columns, _inputs()) == {"c": 1, "k": 1}
    # n is not imputed: its gaps cannot be predicted; m is imputed: only its infinite value cannot
    bad = unpredictable(columns, _inputs())
    assert bad["n"].tolist() == [False, True, True, True, False] and bad["m"].tolist() == [False, False, False, True, False]


def test_text_where_a_number_is_expected_names_the_column() -> None:
    table = pa.table({"n": ["1", "cheap", "2"], "m": [1.0, 2.0, 3.0], "c": ["x"] * 3, "b": ["true"] * 3, "k": ["3"] * 3})
    with pytest.raises(NotANumber, match=r"^data.csv: feature column\(s\) are not numeric: n \(string\): 'cheap' is not a number$"):
        serving_columns(table, _inputs(), "data.csv")


def test_text_read_from_a_csv_takes_the_trained_form_of_integers_and_booleans() -> None:
    """predict reads a CSV's feature columns as text; categories trained on integers or booleans still match."""
    table = pa.table({"n": ["1"] * 4, "m": ["2"] * 4, "c": ["x"] * 4, "b": ["TRUE", "False", "yes", "1"],
                      "k": ["03", " 10.0 ", "+3", "3.5"]})
    columns = serving_columns(table, _inputs(), "data.csv")
    assert columns["b"].tolist() == ["true", "false", "yes", "1"] and columns["k"].tolist() == ["3", "10", "3", "3.5"]


def test_evaluate_scores_the_raw_test_split_with_its_text_and_passthrough_columns(exported: tuple[keras.Model, Path],
                                                                                  tmp_path: Path) -> None:
    model, path = exported
    table = raw_table().append_column("label", pa.array([1, 0, 1, 1, 0, 0], pa.int8()))
    pq.write_table(table, tmp_path / "test_raw.parquet", row_group_size=4)  # two blocks: 4 rows, then 2
    scores = score_blocks({"graph": path}, tmp_path / "test_raw.parquet")
    probability = load_serving(path)(table)  # the whole table at once
    expected = model(reference_encode(reference_columns(raw_table()), NORMALIZER), training=False).numpy()
    np.testing.assert_allclose(probability, expected, atol=1e-6, rtol=0)
    assert scores.rows == 6 and scores.max_abs_diff is None
    whole = binary_metrics(np.array([1, 0, 1, 1, 0, 0]), probability)
    assert scores.metrics["graph"] == pytest.approx({**whole, "auc_max_error": 0.0}, rel=1e-12, abs=0)


def test_codes_written_with_leading_zeros_are_matched_as_written() -> None:
    inputs = ModelInputs.of({"features": ["zip"], "kinds": {"zip": "categorical"}, "vocabularies": {"zip": ["01234", "98000"]},
                             "inputs": {"zip": "zip"}, "classes": [0, 1]})
    assert serving_columns(pa.table({"zip": [" 01234", "1234", "#N/A"]}), inputs, "x.csv")["zip"].tolist() == ["01234", "1234", ""]

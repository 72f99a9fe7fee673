"""Every tabular task: the auto rule, the label's encoding per task, the split per class, the heads and losses
(eager/graph parity per task), and the SavedModel's output per task reloaded from disk."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from eagergraph.core.export import export_model, load_serving
from eagergraph.core.parity import STEP_TOLERANCE, flat_weights
from eagergraph.core.training import train
from eagergraph.data.ingest import ingest_message, ingest_to
from eagergraph.data.io import LABEL
from eagergraph.data.labels import LabelValues
from eagergraph.data.normalize import Normalizer, raw_split_codes
from eagergraph.data.raw_metadata import TASK_KEY
from eagergraph.data.split import SplitRule, split_codes
from eagergraph.data.split_checks import check_split
from eagergraph.data.task import choose_task
from eagergraph.errors import DataError
from eagergraph.modes import VARIANTS
from eagergraph.rundir.paths import RunPaths
from runs import engineer_run, normalize_run


def _values(values: list, limit: int = 50) -> LabelValues:
    found = LabelValues(limit)
    found.update(values)
    return found


# ---------------------------------------------------------------- the auto rule


@pytest.mark.parametrize("values, kind, task", [
    ([0, 1], pa.int64(), "binary"),
    (["no", "yes"], pa.string(), "binary"),
    ([0.5, 1.5], pa.float64(), "binary"),
    (["Adelie", "Chinstrap", "Gentoo"], pa.string(), "multiclass"),
    ([1, 2, 3, 4], pa.int64(), "multiclass"),
    ([18.0, 21.5, 30.0], pa.float64(), "regression"),
    (list(range(60)), pa.int64(), "regression"),  # more integers than --max-classes
])
def test_auto_chooses_the_task_from_the_label_values_and_type(values: list, kind: pa.DataType, task: str) -> None:
    assert choose_task("auto", _values(values), kind, 50, "y", "t.csv")[0] == task


def test_auto_says_why_with_the_classes() -> None:
    task, reason = choose_task("auto", _values(["Gentoo", "Adelie", "Chinstrap"]), pa.string(), 50, "species", "t.csv")
    assert (task, reason) == ("multiclass", "label 'species' has 3 classes: Adelie, Chinstrap, Gentoo")


def test_text_labels_beyond_max_classes_are_refused_naming_the_option() -> None:
    with pytest.raises(DataError, match=r"more than 5 distinct values .*raise --max-classes"):
        choose_task("auto", _values([f"v{i}" for i in range(9)], 5), pa.string(), 5, "y", "t.csv")


def test_label_values_are_tracked_up_to_a_bound() -> None:
    found = _values(list(range(1000)), limit=10)
    assert len(found) == 11 and found.more
    found.update([5000])  # nothing more is collected once over the bound
    assert len(found) == 11


def test_task_binary_on_three_values_names_them_and_their_count_without_dots() -> None:
    with pytest.raises(DataError) as refused:
        choose_task("binary", _values(["a", "b", "c"]), pa.string(), 50, "y", "t.csv")
    assert "has 3 ('a', 'b', 'c');" in str(refused.value) and "..." not in str(refused.value)
    with pytest.raises(DataError, match=r"has 7 \('a', 'b', 'c', 'd', 'e', \.\.\.\)"):  # values left out: "..."
        choose_task("binary", _values(list("abcdefg")), pa.string(), 50, "y", "t.csv")


def test_task_regression_on_a_text_label_is_refused() -> None:
    with pytest.raises(DataError, match="--task regression needs a numeric label; label column 'y' holds text"):
        choose_task("regression", _values(["a", "b", "c"]), pa.string(), 50, "y", "t.csv")


# ---------------------------------------------------------------- the label per task, through the data stages


def _csv(path: Path, columns: dict[str, list]) -> Path:
    pacsv.write_csv(pa.table(columns), path)
    return path


def _three_class(n: int = 300, seed: int = 0) -> dict[str, list]:
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=n), rng.normal(size=n)
    species = np.where(a > 0.4, "gentoo", np.where(b > 0, "adelie", "chinstrap"))
    return {"a": a.tolist(), "b": b.tolist(), "species": species.tolist()}


def _numeric_target(n: int = 120, seed: int = 1) -> dict[str, list]:
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=n), rng.normal(size=n)
    return {"a": a.tolist(), "b": b.tolist(), "mpg": (20 + 4 * a - 3 * b + rng.normal(0, 0.2, n)).tolist()}


def _stages(tmp_path: Path, source: Path, label: str, **options) -> tuple[dict, RunPaths]:
    run = tmp_path / "run"
    run.mkdir()
    paths = RunPaths.of(run)
    raw = ingest_to(paths.raw, source, label, None, 0, 0, 0, **options)
    normalize_run(run, 0.2, 7)
    engineer_run(run)
    return raw, paths


def test_multiclass_label_is_int16_codes_in_sorted_class_order(tmp_path: Path) -> None:
    data = _three_class()
    raw, paths = _stages(tmp_path, _csv(tmp_path / "three.csv", data), "species")
    assert raw["task"] == "multiclass" and raw["classes"] == ["adelie", "chinstrap", "gentoo"]
    assert raw["positive_class"] is None
    assert "task: multiclass (label 'species' has 3 classes: adelie, chinstrap, gentoo); choose with --task" in ingest_message(raw)
    table = pq.read_table(paths.raw)
    assert table.schema.field(LABEL).type == pa.int16() and table.schema.metadata[TASK_KEY] == b"multiclass"
    codes = table.column(LABEL).to_numpy()
    assert [raw["classes"][c] for c in codes] == data["species"]
    normalizer = Normalizer.load(paths.normalizer)
    assert normalizer.task == "multiclass" and normalizer.target is None
    assert pq.read_schema(paths.features("train")).field(LABEL).type == pa.int16()


def test_regression_label_is_float64_raw_and_standardized_float32_for_training(tmp_path: Path) -> None:
    data = _numeric_target()
    raw, paths = _stages(tmp_path, _csv(tmp_path / "mpg.csv", data), "mpg")
    assert raw["task"] == "regression" and raw["classes"] == []
    table = pq.read_table(paths.raw)
    assert table.schema.field(LABEL).type == pa.float64()
    np.testing.assert_array_equal(table.column(LABEL).to_numpy(), data["mpg"])
    normalizer = Normalizer.load(paths.normalizer)
    codes = raw_split_codes(paths.raw, SplitRule(**normalizer.split))
    assert np.array_equal(np.sort(pq.read_table(paths.test_raw).column(LABEL).to_numpy()),
                          np.sort(table.column(LABEL).to_numpy()[codes == 2]))
    train_y = table.column(LABEL).to_numpy()[codes == 0]
    assert normalizer.target["mean"] == pytest.approx(train_y.mean()) and normalizer.target["std"] == pytest.approx(train_y.std())
    features = pq.read_table(paths.features("train"))
    assert features.schema.field(LABEL).type == pa.float32()
    z = features.column(LABEL).to_numpy().astype(np.float64)
    assert abs(z.mean()) < 1e-6 and z.std() == pytest.approx(1.0, abs=1e-6)  # standardized with the train statistics


def test_binary_snapshot_carries_no_task_key_so_it_stays_as_it_was(tmp_path: Path) -> None:
    data = _three_class()
    data["species"] = ["x" if s == "adelie" else "y" for s in data["species"]]
    raw, paths = _stages(tmp_path, _csv(tmp_path / "two.csv", data), "species")
    schema = pq.read_schema(paths.raw)
    assert raw["task"] == "binary" and schema.field(LABEL).type == pa.int8() and TASK_KEY not in schema.metadata
    assert Normalizer.load(paths.normalizer).task == "binary"


@pytest.mark.parametrize("change, options, message", [
    (lambda d: d.update(species=d["species"][:-1] + ["emperor"]), {},
     "class 'emperor' of the label has 1 row, too few for each of the train, validation and test splits"),
    (lambda d: None, {"positive_class": "gentoo"}, "--positive-class is for binary labels; label column 'species' is a multiclass task"),
    (lambda d: None, {"task": "regression"}, "--task regression needs a numeric label"),
])
def test_multiclass_bad_input_is_refused_in_one_line(tmp_path: Path, change, options: dict, message: str) -> None:
    data = _three_class()
    change(data)
    with pytest.raises(DataError, match=message):
        _stages(tmp_path, _csv(tmp_path / "three.csv", data), "species", **options)


def test_a_regression_label_with_gaps_is_refused_or_dropped(tmp_path: Path) -> None:
    data = _numeric_target()
    data["mpg"][3] = None
    source = _csv(tmp_path / "gaps.csv", data)
    with pytest.raises(DataError, match=r"missing, NaN or infinite values \(mpg: 1\)"):
        ingest_to(tmp_path / "raw.parquet", source, "mpg", None, 0, 0, 0)
    assert not (tmp_path / "raw.parquet").exists()
    raw, _ = _stages(tmp_path, source, "mpg", drop_invalid=True)
    assert raw["task"] == "regression" and raw["rows"] == len(data["mpg"]) - 1


# ---------------------------------------------------------------- the split


def test_a_class_too_small_for_every_split_is_named() -> None:
    labels = np.array([0] * 20 + [1] * 20 + [2] * 2, dtype=np.int16)
    codes = split_codes(pa.table({"id": np.arange(len(labels))}), SplitRule(["id"], 0, 0.2, 0.1))
    with pytest.raises(DataError, match="class 'c' of the label has 2 rows, too few for each of the train, validation"):
        check_split(labels, codes, "t.csv", "multiclass", ["a", "b", "c"])


# ---------------------------------------------------------------- heads, losses and parity per task


def _arrays(task: str, rows: int = 192, n: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, n)).astype(np.float32)
    if task == "multiclass":
        y = np.digitize(x[:, 0] + 0.5 * x[:, 1], [-0.5, 0.5])
    else:
        y = x[:, 0] - 2 * x[:, 1] ** 2
        y = (y - y.mean()) / y.std()
    return x, y.astype(np.float32).reshape(-1, 1)


def _options(task: str) -> dict:
    return dict(epochs=2, batch_size=32, hidden=8, learning_rate=0.01, seed=3, task=task, n_classes=3)


@pytest.fixture(scope="module")
def eager_per_task() -> Callable:
    """Eager training per task, once for the module: eager runs no variant, so every variant is compared with the
    same eager run (the tests only read it)."""
    return functools.cache(lambda task: train(*_arrays(task), "eager", "step", **_options(task)))


@pytest.mark.parametrize("task", ["multiclass", "regression"])
@pytest.mark.parametrize("variant", VARIANTS)
def test_eager_and_graph_train_the_same_for_every_task(task: str, variant: str, eager_per_task: Callable) -> None:
    x, y = _arrays(task)
    eager, eager_result = eager_per_task(task)
    graph, graph_result = train(x, y, "graph", variant, measure_step_parity=True, **_options(task))
    assert float(np.max(np.abs(flat_weights(eager) - flat_weights(graph)))) <= 1e-4
    assert graph_result.step_parity <= STEP_TOLERANCE
    assert eager.output_shape == (None, 3 if task == "multiclass" else 1)
    if task == "regression":
        assert all(set(entry) == {"epoch", "loss", "seconds", "steps"} for entry in eager_result.history)
    assert eager_result.history[-1]["loss"] < eager_result.history[0]["loss"]  # the loss is the task's and it learns


def test_multiclass_loss_is_sparse_categorical_cross_entropy() -> None:
    import keras

    x, y = _arrays("multiclass", rows=64)
    model, result = train(x, y, "eager", "step", epochs=1, batch_size=64, hidden=8, learning_rate=0.0, seed=1,
                          task="multiclass", n_classes=3)  # learning rate 0: the epoch's loss is the initial model's
    expected = float(np.mean(keras.losses.sparse_categorical_crossentropy(y, model(x)).numpy()))
    assert result.history[0]["loss"] == pytest.approx(expected, rel=1e-5)
    assert result.history[0]["accuracy"] == pytest.approx(float(np.mean(model(x).numpy().argmax(1) == y[:, 0])))


# ---------------------------------------------------------------- the SavedModel per task


def _normalizer(task: str, target: dict | None = None) -> Normalizer:
    numeric = [{"name": f"f{i}", "mean": 0.5 * i, "std": 1.0 + i, "impute": None, "missing": 0} for i in range(2)]
    classes = ["a", "b", "c"] if task == "multiclass" else []
    return Normalizer(["f0", "f1"], numeric, [], classes, 100, 20, task, target)


def test_multiclass_savedmodel_serves_class_probabilities_that_sum_to_one(tmp_path: Path, eager_per_task: Callable) -> None:
    model, _ = eager_per_task("multiclass")  # a trained 3-class model on 4 inputs (exporting leaves it as it was)
    export_model(model, _normalizer("multiclass"), tmp_path / "model")
    info = json.loads((tmp_path / "model" / "assets.extra" / "eagergraph.json").read_text())
    assert info["classes"] == ["a", "b", "c"] and info["task"] == "multiclass" and info["output"] == "probabilities"
    raw = {"f0": np.array([0.0, 1.0, -3.0]), "f1": np.array([2.0, 0.5, 1.0])}
    p = load_serving(tmp_path / "model")(raw)
    assert p.shape == (3, 3)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-6)


def test_regression_savedmodel_serves_the_value_in_the_target_units(tmp_path: Path, eager_per_task: Callable) -> None:
    model, _ = eager_per_task("regression")  # a trained regression model on 4 inputs
    target = {"mean": 23.5, "std": 7.25}
    export_model(model, _normalizer("regression", target), tmp_path / "model")
    raw = {"f0": np.array([0.0, 1.0, -3.0]), "f1": np.array([2.0, 0.5, 1.0])}
    value = load_serving(tmp_path / "model")(raw)
    z = [(raw[f"f{i}"] - 0.5 * i) / (1.0 + i) for i in range(2)]
    inputs = np.column_stack([*z, *(v**2 for v in z)]).astype(np.float32)
    np.testing.assert_allclose(value, model(inputs).numpy() * 7.25 + 23.5, rtol=1e-5)


# ---------------------------------------------------------------- partitions


@pytest.mark.parametrize("data, label, task", [(_three_class(300), "species", "multiclass"), (_numeric_target(), "mpg", "regression")])
def test_partitions_merge_into_the_task_of_the_whole_folder(tmp_path: Path, data: dict, label: str, task: str) -> None:
    from eagergraph.data.partitions import ingest_partition_to, merge_partitions_to
    from runs import split_files

    folder = tmp_path / "parts"
    folder.mkdir()
    half = len(data[label]) // 2
    for i, rows in enumerate((slice(0, half), slice(half, None))):
        pq.write_table(pa.table({k: v[rows] for k, v in data.items()}), folder / f"part-{i}.parquet")
    run = RunPaths.of(tmp_path / "run")
    run.root.mkdir()
    parts = [ingest_partition_to(run.raw_part(i), folder, str(folder / f"part-{i}.parquet"), i, label, None)
             for i in range(2)]
    merged = merge_partitions_to(run.raw, [run.raw_part(p["index"]) for p in parts], split_files(run.root), parts, folder,
                                 label, False, test_fraction=0.25, seed=0)
    assert merged["task"] == task and Normalizer.load(run.normalizer).task == task
    test_rows = pq.read_table(run.test_raw).num_rows
    if task == "regression":  # the rows the rule puts in test, whichever partition holds them
        rule = SplitRule(**Normalizer.load(run.normalizer).split)
        assert rule.by == "content" and test_rows == int((raw_split_codes(run.raw, rule) == 2).sum()) > 0
    else:  # every class in both splits
        codes = pq.read_table(run.normalized("test")).column(LABEL).to_numpy()
        assert set(codes.tolist()) == {0, 1, 2} and set(pq.read_table(run.raw).column(LABEL).to_numpy().tolist()) == {0, 1, 2}


def test_a_sweep_ranks_by_the_task_metrics_in_their_direction() -> None:
    from eagergraph.core.sweep import rank, ranking_markdown_rows

    results = [{"name": "a", "task": "regression", "rmse": 2.5, "mae": 2.0, "train_seconds": 1.0},
               {"name": "b", "task": "regression", "rmse": 2.1, "mae": 1.9, "train_seconds": 1.0},
               {"name": "c", "task": "regression", "rmse": 2.1, "mae": 1.7, "train_seconds": 1.0}]
    for r in results:
        r.update(learning_rate=0.01, hidden=8, batch_size=32, variant="step")
    ranking = rank(results)
    assert [r["name"] for r in ranking] == ["c", "b", "a"]  # lower RMSE first, then lower MAE
    assert "rmse" in ranking_markdown_rows(ranking)[0] and "auc" not in ranking_markdown_rows(ranking)[0]

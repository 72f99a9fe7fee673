"""Unit tests of each stage's pure logic on tiny tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from eagergraph.data.ingest import ingest_to
from eagergraph.data.io import LABEL
from eagergraph.data.normalize import Normalizer
from eagergraph.data.split import TEST, TRAIN, SplitRule, split_codes
from eagergraph.data.synthetic import synthetic_batches
from eagergraph.errors import DataError
from eagergraph.moments import RunningMoments
from eagergraph.rundir.paths import RunPaths
from runs import engineer_run, normalize_run


def _write_csv(path: Path, columns: dict[str, list]) -> Path:
    pacsv.write_csv(pa.table(columns), path)
    return path


def tiny(tmp_path: Path, n: int = 40) -> dict[str, list]:
    rng = np.random.default_rng(0)
    return {"a": rng.normal(5, 2, n).tolist(), "b": rng.normal(-3, 10, n).tolist(), "name": [f"r{i}" for i in range(n)],
            "target": [i % 2 for i in range(n)]}


# ---------------------------------------------------------------- ingest


def test_synthetic_is_seeded_and_chunk_independent() -> None:
    one = pa.Table.from_batches(list(synthetic_batches(1000, 4, seed=7)))
    chunked = pa.Table.from_batches(list(synthetic_batches(1000, 4, seed=7, chunk_rows=1000)))
    other = pa.Table.from_batches(list(synthetic_batches(1000, 4, seed=8)))
    assert one.equals(chunked)
    assert not one.equals(other)
    assert one.num_rows == 1000 and one.column_names == ["x0", "x1", "x2", "x3", LABEL]
    positives = pc_mean(one.column(LABEL))
    assert 0.2 < positives < 0.8  # both classes well represented


def pc_mean(column: pa.ChunkedArray) -> float:
    return float(np.mean(column.to_numpy()))


def test_ingest_csv_selects_numeric_columns_and_encodes_label(tmp_path: Path) -> None:
    data = tiny(tmp_path)
    data["target"] = ["yes" if i % 2 else "no" for i in range(40)]
    source = _write_csv(tmp_path / "in.csv", data)
    result = ingest_to(tmp_path / "raw.parquet", source, "target", None, 0, 0, 0)
    raw = pq.read_table(tmp_path / "raw.parquet")
    assert result["features"] == ["a", "b"]  # the text column is not a feature
    assert result["classes"] == ["no", "yes"]
    assert raw.column_names == ["a", "b", LABEL, "name"]  # the text column is carried beside them
    assert raw.column(LABEL).to_pylist() == [i % 2 for i in range(40)]
    np.testing.assert_allclose(raw.column("a").to_numpy(), data["a"])


def test_ingest_explicit_features_and_parquet_folder(tmp_path: Path) -> None:
    folder = tmp_path / "parts"
    folder.mkdir()
    data = tiny(tmp_path)
    pq.write_table(pa.table(data).slice(0, 20), folder / "part-0.parquet")
    pq.write_table(pa.table(data).slice(20), folder / "part-1.parquet")
    result = ingest_to(tmp_path / "raw.parquet", folder, "target", ["b"], 0, 0, 0)
    assert result["features"] == ["b"] and result["rows"] == 40


@pytest.mark.parametrize("change, message", [
    (lambda d: d.pop("target"), "label column 'target' not found"),
    (lambda d: d.update(target=[1] * 40), "single class"),
    (lambda d: d.update(a=[float("nan")] * 3 + d["a"][3:]), "a: 3"),
])
def test_ingest_refuses_bad_tables(tmp_path: Path, change, message: str) -> None:
    data = tiny(tmp_path)
    change(data)
    source = _write_csv(tmp_path / "bad.csv", data)
    with pytest.raises(DataError, match=message):
        ingest_to(tmp_path / "raw.parquet", source, "target", None, 0, 0, 0)


def test_ingest_drop_invalid_counts_rows(tmp_path: Path) -> None:
    data = tiny(tmp_path)
    data["a"][:3] = [float("nan"), float("inf"), None]
    source = _write_csv(tmp_path / "in.csv", data)
    result = ingest_to(tmp_path / "raw.parquet", source, "target", None, 0, 0, 0, drop_invalid=True)
    assert result["dropped_rows"] == 3 and result["rows"] == 37


# ---------------------------------------------------------------- normalize


def _raw_run(tmp_path: Path, columns: dict[str, list]) -> Path:
    source = _write_csv(tmp_path / "in.csv", columns)
    ingest_to(RunPaths.of(tmp_path).raw, source, "target", None, 0, 0, 0)
    return tmp_path


def test_statistics_come_from_the_train_split_only(tmp_path: Path) -> None:
    run = _raw_run(tmp_path, tiny(tmp_path))  # `name` is a row id: it keys the split, so changed values stay put
    normalize_run(run, 0.25, seed=5)
    paths = RunPaths.of(run)
    stats = Normalizer.load(paths.normalizer)
    raw = pq.read_table(paths.raw)
    assert stats.split["by"] == "id" and stats.split["key"] == ["name"]
    codes = split_codes(raw, SplitRule(["name"], 5, 0.25, 0.1))
    test_a = set(pq.read_table(paths.test_raw).column("a").to_pylist())
    assert test_a == set(raw.column("a").filter(pa.array(codes == TEST)).to_pylist())
    held_out = set(raw.column("a").filter(pa.array(codes != TRAIN)).to_pylist())
    assert stats.validation_rows == pq.read_table(paths.normalized("validation")).num_rows == int((codes == 1).sum()) > 0
    train_a = np.array([v for v in raw.column("a").to_pylist() if v not in held_out])
    assert stats.mean[0] == pytest.approx(train_a.mean())
    assert stats.std[0] == pytest.approx(train_a.std())
    assert stats.mean[0] != pytest.approx(raw.column("a").to_numpy().mean())  # the test rows were left out
    # Changing only test and validation rows changes nothing in the statistics.
    tampered = tmp_path / "tampered"
    tampered.mkdir()
    table = raw.to_pydict()
    table["a"] = [v * 100 if v in held_out else v for v in table["a"]]
    pq.write_table(pa.table(table, schema=raw.schema), RunPaths.of(tampered).raw)
    normalize_run(tampered, 0.25, seed=5)
    assert Normalizer.load(RunPaths.of(tampered).normalizer).mean == stats.mean
    train = pq.read_table(paths.normalized("train")).column("a").to_numpy()
    assert abs(train.mean()) < 1e-5 and train.std() == pytest.approx(1.0, rel=1e-5)


def test_constant_column_does_not_divide_by_zero(tmp_path: Path) -> None:
    data = tiny(tmp_path)
    data["a"] = [3.0] * 40
    run = _raw_run(tmp_path, data)
    normalize_run(run, 0.25, seed=0)
    stats = Normalizer.load(RunPaths.of(run).normalizer)
    assert stats.std[0] == 1.0
    normalized = pq.read_table(RunPaths.of(run).normalized("test")).column("a").to_numpy()
    assert np.all(normalized == 0.0)


def test_split_without_both_classes_is_refused(tmp_path: Path) -> None:
    data = tiny(tmp_path, n=40)
    data["target"] = [1] * 39 + [0]
    run = _raw_run(tmp_path, data)
    with pytest.raises(DataError, match="too few rows for the split"):
        normalize_run(run, 0.2, seed=0)


def test_ingest_counts_the_rows_of_each_class_it_writes(tmp_path: Path) -> None:
    data = tiny(tmp_path, n=40)
    data["target"] = [1] * 31 + [0] * 9
    data["a"][3] = float("nan")  # dropped with its label: the counts are of the rows written
    source = _write_csv(tmp_path / "in.csv", data)
    raw = ingest_to(RunPaths.of(tmp_path).raw, source, "target", None, 0, 0, 0, drop_invalid=True)
    written = pq.read_table(RunPaths.of(tmp_path).raw, columns=[LABEL]).column(LABEL).to_numpy()
    assert raw["class_counts"] == np.bincount(written, minlength=2).tolist() == [9, 30]


@pytest.mark.parametrize("task, counts, fraction", [
    ("binary", [5, 1], 0.2), ("binary", [39, 1], 0.2), ("binary", [2, 2], 0.2), ("binary", [300, 100], 0.25),
    ("binary", [6, 6], 0.2), ("multiclass", [20, 20, 2], 0.2), ("multiclass", [3, 0, 9], 0.3),
    ("multiclass", [500, 300, 200], 0.2), ("regression", [2], 0.2), ("regression", [3], 0.2), ("regression", [1001], 0.25)])
def test_the_split_planned_from_class_counts_refuses_only_what_the_drawn_split_refuses(task: str, counts: list[int],
                                                                                        fraction: float) -> None:
    """The flow checks the split from ingest's class counts before TensorFlow loads (a class needs a row per split);
    normalize checks the split it draws. What the plan refuses, the drawn split refuses too (multiclass: with the
    same line); the drawn split refuses more (a hash may leave a small class out of a split), never less."""
    from eagergraph.data.split_checks import check_planned_split, check_split

    rng = np.random.default_rng(1)
    labels = rng.permutation(np.repeat(np.arange(len(counts), dtype=np.int16), counts)) if task != "regression" \
        else rng.normal(size=counts[0])
    classes = [f"c{i}" for i in range(len(counts))] if task == "multiclass" else None
    rows = pa.table({"id": np.arange(len(labels))})

    def refusal(check, *args) -> str | None:
        try:
            check(*args, "t.csv", task, classes)
        except DataError as error:
            return str(error)
        return None

    drawn = refusal(check_split, labels, split_codes(rows, SplitRule(["id"], 3, fraction, 0.1)))
    planned = refusal(check_planned_split, counts)
    assert planned is None or drawn is not None
    if task == "multiclass" and planned:
        assert planned == drawn and "too few for each of the train, validation and test splits" in planned
    assert (planned is None) == (min(counts) >= 3), planned
    large = {("binary", (300, 100)), ("multiclass", (500, 300, 200)), ("regression", (1001,))}
    assert (task, tuple(counts)) not in large or drawn is None, drawn
    assert drawn is None or "too few" in drawn and "--validation-fraction" in drawn


def test_scoring_blocks_are_cut_to_size_in_order_whatever_the_batches() -> None:
    from eagergraph.data.io import in_blocks

    sizes = [5, 0, 7, 3, 20, 1]
    starts = np.cumsum([0, *sizes])
    batches = [pa.record_batch({"a": pa.array(range(s, s + n), pa.int64())}) for s, n in zip(starts, sizes)]
    blocks = list(in_blocks(iter(batches), 8))
    assert [b.num_rows for b in blocks] == [8, 8, 8, 8, 4]
    assert all(b.column("a").num_chunks == 1 for b in blocks)
    assert [v for b in blocks for v in b.column("a").to_pylist()] == list(range(36))
    assert [b.num_rows for b in in_blocks(iter(batches), 100)] == [36]


def test_running_moments_merge_equals_one_pass() -> None:
    x = np.random.default_rng(5).normal(10, 3, (1000, 3))
    moments = RunningMoments(3)
    for chunk in np.array_split(x, 7):
        moments.update(chunk)
    np.testing.assert_allclose(moments.mean, x.mean(axis=0))
    np.testing.assert_allclose(moments.std(), x.std(axis=0))


# ---------------------------------------------------------------- engineer-features


def test_engineer_writes_every_split(tmp_path: Path) -> None:
    run = _raw_run(tmp_path, tiny(tmp_path))
    normalize_run(run, 0.25, seed=0)
    result = engineer_run(run)
    for split in ("train", "validation", "test"):
        table = pq.read_table(RunPaths.of(run).features(split))
        assert table.column_names == ["a", "b", "a_sq", "b_sq", LABEL]
        np.testing.assert_allclose(table.column("b_sq").to_numpy(), table.column("b").to_numpy() ** 2, rtol=1e-6)
    assert result["columns"] == ["a", "b", "a_sq", "b_sq"]

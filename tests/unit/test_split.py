"""The split as a function of the row: a golden split that pins the hash scheme, appended rows that never move an
earlier row, a growing public table through ingest and normalize, class shares within the stated tolerance, and
the id column option."""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eagergraph.config import build_config
from eagergraph.data.ingest import ingest_to
from eagergraph.data.io import LABEL
from eagergraph.data.normalize import Normalizer, raw_split_codes
from eagergraph.data.split import SCHEME, TEST, TRAIN, VALIDATION, SplitRule, column_hash, row_hash, split_codes
from eagergraph.errors import ConfigError, DataError
from eagergraph.rundir.paths import RunPaths
from runs import normalize_run

TELCO = Path(__file__).parents[2] / "benchmarks" / "data" / "telco-churn.csv"


def _golden_table() -> pa.Table:
    return pa.table({
        "x": pa.array([1.5, -0.0, 0.0, float("nan"), None, 2.0, -3.25, 1e300, 7.0, 0.1, 2.5, 3.0]),
        "n": pa.array([1, 2, 3, 2**60, None, 2, -7, 0, 7, 10, 11, 12], pa.int64()),
        "city": pa.array(["Paris", "Zürich", None, "Paris", "", "Lyon", "Lyon", "a b", "Oslo", "Rome", "Rome", "Nice"]),
        "when": pa.array([datetime.date(2026, 1, i + 1) for i in range(11)] + [None]),
        LABEL: pa.array([0, 1, 1, 0, 1, 0, 1, 0, 0, 1, 1, 0], pa.int8())})


def test_the_golden_split_is_stable_across_versions_and_machines() -> None:
    # These values are the behaviour: a production model's split is recomputed from them by later runs, on other
    # machines and library versions. A change here moves every row of every user's table: a new SCHEME name.
    table = _golden_table()
    rule = SplitRule(sorted(table.column_names), 42, 0.25, 0.25)
    assert rule.hash == SCHEME == "splitmix64-blake2b-v1"
    assert split_codes(table, rule).tolist() == [2, 1, 1, 2, 0, 2, 2, 2, 0, 2, 0, 2]
    assert split_codes(table, rule, classes=["no", "yes"]).tolist() == [1, 2, 1, 0, 0, 0, 0, 1, 0, 1, 0, 0]
    golden = {"x": ["0xd6dab18e1392608a", "0xe220a8397b1dcdaf", "0xe220a8397b1dcdaf", "0xc72971d82e15bb46"],
              "n": ["0x88d7c35bbbf3eded", "0xaa50ea8e0fa9eb", "0x77f1a0978949cf35", "0x3a757e692130ea30"],
              "city": ["0x2490b7df5667e76b", "0x8d579a7fa387470", "0x6a09e667f3bcc908", "0x2490b7df5667e76b"],
              "when": ["0x89db5515b8de1f50", "0x91eed16d69cefb4e", "0x5e4c81ee824fac24", "0x323e7ead43d689a9"]}
    for name, cells in golden.items():
        assert [hex(v) for v in column_hash(table.column(name))[:4].tolist()] == cells, name
    rows = row_hash({n: table.column(n) for n in table.column_names}, 42, table.num_rows)
    assert [hex(v) for v in rows[:3].tolist()] == ["0x30f72facb84d6906", "0x49aeb4f5a39cb702", "0x518604cabb3f5a55"]


def test_a_cell_hashes_as_its_value_not_its_encoding() -> None:
    same = [(pa.array([7], pa.int8()), pa.array([7.0])), (pa.array([-0.0]), pa.array([0.0])),
            (pa.array([True]), pa.array([1])), (pa.array(["é"], pa.large_string()), pa.array(["é"])),
            (pa.array(["a", "b", "a"]).dictionary_encode(), pa.array(["a", "b", "a"])),
            (pa.chunked_array([["a"], ["b", None]]), pa.array(["a", "b", None])),
            (pa.array([float("nan")]), pa.array([-float("nan")]))]
    for one, other in same:
        assert column_hash(one).tolist() == column_hash(other).tolist(), (one, other)
    apart = (column_hash(pa.array([None, 0.0])).tolist() + column_hash(pa.array([2**60, 2**60 + 1])).tolist()
             + column_hash(pa.array(["", "0"])).tolist())
    assert len(set(apart)) == len(apart)  # missing, 0, "", "0" and integers beyond float64's precision stay apart


rows_strategy = st.lists(st.tuples(st.floats(allow_nan=True, allow_infinity=True) | st.none(),
                                   st.integers(-2**63, 2**63 - 1), st.text(max_size=8) | st.none(),
                                   st.integers(0, 1)), min_size=1, max_size=40)


@settings(max_examples=60, deadline=None)
@given(rows_strategy, rows_strategy, st.integers(0, 2**32), st.floats(0.01, 0.5), st.floats(0.01, 0.45))
def test_appending_rows_never_moves_an_earlier_row(first: list, more: list, seed: int, test: float,
                                                   validation: float) -> None:
    def table(rows: list) -> pa.Table:
        x, n, s, y = zip(*rows)
        return pa.table({"x": pa.array(x, pa.float64()), "n": pa.array(n, pa.int64()), "s": pa.array(s, pa.string()),
                         LABEL: pa.array(y, pa.int8())})

    rule = SplitRule(["x", "n", "s", LABEL], seed, test, validation)
    before = split_codes(table(first), rule)
    grown = split_codes(table(first + more), rule)
    assert np.array_equal(grown[:len(first)], before)
    reordered = split_codes(table(more + first), rule)  # and the order of the rows does not matter either
    assert np.array_equal(reordered[len(more):], before)


def _telco(tmp_path: Path, name: str, order: np.ndarray, keep_id: bool = True, id_column: str | None = None) -> RunPaths:
    table = pacsv.read_csv(TELCO).take(pa.array(order))
    if not keep_id:
        table = table.drop_columns(["customerID"])
    source = tmp_path / f"{name}.csv"
    pacsv.write_csv(table, source)
    run = RunPaths.of(tmp_path / name)
    ingest_to(run.raw, source, "Churn", None, 0, 0, 0, impute="median", id_column=id_column)
    normalize_run(run.root, 0.2, 7, validation_fraction=0.1)
    return run


def _codes(run: RunPaths) -> np.ndarray:
    return raw_split_codes(run.raw, SplitRule(**Normalizer.load(run.normalizer).split))


def test_a_growing_table_keeps_every_earlier_row_in_its_split(tmp_path: Path) -> None:
    # production trained on 80 % of the rows; the table grew (and its export came out in another order)
    rows = 7043
    first = np.arange(int(rows * 0.8))
    grown = np.random.default_rng(3).permutation(rows)
    before = _telco(tmp_path, "before", first, id_column="customerID")
    after = _telco(tmp_path, "after", grown, id_column="customerID")
    assert Normalizer.load(after.normalizer).split["key"] == ["customerID"]
    ids = {run: pq.read_table(run.raw, columns=["customerID"]).column("customerID").to_pylist() for run in (before, after)}
    split_after = dict(zip(ids[after], _codes(after).tolist()))
    split_before = _codes(before)
    assert all(split_after[i] == code for i, code in zip(ids[before], split_before.tolist()))
    old_test = set(pq.read_table(before.test_raw).column("customerID").to_pylist())
    assert old_test <= set(pq.read_table(after.test_raw).column("customerID").to_pylist())
    trained = {i for i, code in zip(ids[before], split_before.tolist()) if code == TRAIN}
    assert not trained & set(pq.read_table(after.test_raw).column("customerID").to_pylist())


def test_without_an_id_the_row_content_keys_the_split(tmp_path: Path) -> None:
    before = _telco(tmp_path, "before", np.arange(5000), keep_id=False)
    after = _telco(tmp_path, "after", np.arange(7043), keep_id=False)
    rule = Normalizer.load(after.normalizer).split
    assert rule["by"] == "content" and LABEL in rule["key"] and "tenure" in rule["key"]
    assert np.array_equal(_codes(after)[:5000], _codes(before))


def test_class_shares_stay_within_three_standard_errors_in_every_split(tmp_path: Path) -> None:
    # the tolerance the docs state: a split of n rows holds a class of overall share p within 3·sqrt(p(1-p)/n)
    run = _telco(tmp_path, "all", np.arange(7043))
    labels = pq.read_table(run.raw, columns=[LABEL]).column(LABEL).to_numpy()
    codes = _codes(run)
    p = labels.mean()
    shares = {}
    for code in (TRAIN, VALIDATION, TEST):
        n = int((codes == code).sum())
        shares[code] = labels[codes == code].mean()
        assert abs(shares[code] - p) <= 3 * np.sqrt(p * (1 - p) / n), (code, shares[code], p)
    sizes = np.bincount(codes, minlength=3) / len(codes)
    assert abs(sizes[TEST] - 0.2) < 0.015 and abs(sizes[VALIDATION] - 0.1) < 0.012  # also binomially close


def test_an_id_column_named_by_the_user_keys_the_split_and_is_no_feature(tmp_path: Path) -> None:
    n = 200
    rng = np.random.default_rng(0)
    ids = rng.permutation(10 * n)[:n]
    source = tmp_path / "in.csv"
    pacsv.write_csv(pa.table({"ticket": ids, "a": rng.normal(size=n), "code": rng.integers(0, 5, n),
                              "y": rng.integers(0, 2, n)}), source)
    run = RunPaths.of(tmp_path / "run")
    with pytest.raises(DataError, match=r"--id-column 'code' is not a row id: it repeats a value or has missing cells"):
        ingest_to(run.raw, source, "y", None, 0, 0, 0, id_column="code")
    with pytest.raises(DataError, match=r"--id-column 'nope' not found; columns are: ticket, a, code, y"):
        ingest_to(run.raw, source, "y", None, 0, 0, 0, id_column="nope")
    with pytest.raises(DataError, match=r"--id-column 'y' is also the label or a feature"):
        ingest_to(run.raw, source, "y", None, 0, 0, 0, id_column="y")
    assert not run.raw.exists()
    result = ingest_to(run.raw, source, "y", None, 0, 0, 0, id_column="ticket")
    assert result["split_key"] == ["ticket"] and result["left_out"]["ticket"] == "the row id (--id-column)"
    assert "ticket" not in result["features"] and "ticket" in result["passthrough"]
    normalized = normalize_run(run.root, 0.2, 1)
    assert normalized["split_by"] == "id" and normalized["split_key"] == ["ticket"]
    expected = split_codes(pa.table({"ticket": ids}), SplitRule(["ticket"], 1, 0.2, 0.1))
    assert [normalized[f"{s}_rows"] for s in ("train", "validation", "test")] == np.bincount(expected, minlength=3).tolist()


def test_the_fractions_must_leave_rows_to_train_on() -> None:
    with pytest.raises(ConfigError) as caught:
        build_config(test_fraction=0.6, validation_fraction=0.4)
    assert str(caught.value) == ("--test-fraction 0.6 plus --validation-fraction 0.4 leaves no rows to train on; "
                                 "their sum must be below 1")
    with pytest.raises(ConfigError, match=r"invalid value for --validation-fraction: 0.0 \(input should be greater than 0\)"):
        build_config(validation_fraction=0.0)
    assert build_config().validation_fraction == 0.1 and build_config(id_column="ticket").id_column == "ticket"


def test_a_new_class_shifting_the_label_codes_moves_no_row() -> None:
    # raw.parquet holds multiclass labels as codes in sorted class order: a new class that sorts first shifts them
    values = ["gentoo", "adelie", "chinstrap", "gentoo", "adelie"] * 20
    size = np.arange(len(values), dtype=np.float64)
    rule = SplitRule(["size", LABEL], 9, 0.2, 0.1)
    classes = sorted(set(values))
    before = split_codes(pa.table({"size": size, LABEL: pa.array([classes.index(v) for v in values], pa.int16())}),
                         rule, classes)
    grown_classes = sorted({*classes, "aardvark"})
    after = split_codes(pa.table({"size": np.append(size, 1e6),
                                  LABEL: pa.array([grown_classes.index(v) for v in [*values, "aardvark"]], pa.int16())}),
                        rule, grown_classes)
    assert np.array_equal(after[:-1], before) and len(set(before.tolist())) == 3


def test_a_recorded_rule_is_recomputed_only_on_the_same_scheme_key_and_key_types() -> None:
    """The gate recomputes production's split on this run's rows only where it would give production's codes: the
    same hash scheme, every key column present, each with the value type it had (text read as dictionaries is
    text); otherwise it says why, and the gate notes that production may have trained on the rows it compares."""
    from eagergraph.data.normalize import split_rule

    then = pa.schema([("ticket", pa.int64()), ("name", pa.string()), (LABEL, pa.int8())])
    rule = split_rule(then, 7, 0.2, 0.1)
    assert rule.types == {"ticket": "int64", "name": "string"}
    assert rule.recomputable_on(then) is None
    dictionary = pa.schema([("ticket", pa.int64()), ("name", pa.dictionary(pa.int32(), pa.string())), (LABEL, pa.int16())])
    assert rule.recomputable_on(dictionary) is None  # same values, another encoding; the label is hashed by value
    retyped = pa.schema([("ticket", pa.string()), ("name", pa.string()), (LABEL, pa.int8())])
    assert rule.recomputable_on(retyped) == "production's split key changed type (ticket: int64 then, string now)"
    assert rule.recomputable_on(pa.schema([("ticket", pa.int64())])).startswith("production's split key (name, label)")
    other = SplitRule(**{**rule.as_json(), "hash": "another-v0"})
    assert other.recomputable_on(then) == f"production's split used the hash scheme another-v0, not {SCHEME}"
    legacy = SplitRule(**{**rule.as_json(), "types": None})  # recorded before key types were
    assert legacy.recomputable_on(retyped) is None

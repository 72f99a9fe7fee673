"""Column kinds, blank cells, imputation and vocabularies (issue 16), through the real stages on real files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from eagergraph.config import build_config
from eagergraph.data.ingest import ingest_message, ingest_to
from eagergraph.data.io import LABEL
from eagergraph.data.normalize import Normalizer, raw_split_codes, split_rule, vocabulary
from eagergraph.data.partitions import ingest_partition_to, merge_partitions_to
from eagergraph.data.preprocessing import (
    MISSING,
    UNSEEN,
    category_codes,
    category_codes_arrow,
    destandardize,
    encode,
    input_names,
    standardize,
)
from eagergraph.data.split import SPLITS, SplitRule
from eagergraph.errors import ConfigError, DataError
from eagergraph.io import read_json
from eagergraph.registry import drift
from eagergraph.rundir.paths import RunPaths
from runs import engineer_run, normalize_run, split_files

BLANKS = ("", " ", "  ", "NA", "?", "-", "n/a", "null")  # what real exports write for "no value"


def passengers(n: int = 300, seed: int = 4) -> list[str]:
    """A passenger-survival-like CSV: id, a unique name, sex, port (two blank), age with blank and token cells,
    fare, an empty cabin column, a boarding date, a yes/no flag, and a 0/1 label that depends on sex and age."""
    rng = np.random.default_rng(seed)
    sex = rng.choice(["male", "female"], n, p=[0.6, 0.4])
    port = rng.choice(["S", "C", "Q"], n, p=[0.7, 0.2, 0.1])
    age = rng.uniform(1, 70, n).round(0)
    fare = rng.gamma(2, 15, n).round(2)
    alone = rng.choice(["true", "false"], n)
    survived = ((sex == "female") * 1.5 - age / 40 + rng.normal(0, 0.7, n)) > 0
    lines = ["passenger_id,name,sex,port,age,fare,cabin,boarded,alone,survived"]
    for i in range(n):
        age_cell = BLANKS[i % len(BLANKS)] if i % 7 == 0 else f"{age[i]:g}"
        port_cell = "" if i in (5, 77) else port[i]
        lines.append(f'{1000 + i},"Person, {i}", {sex[i]} ,{port_cell},{age_cell},{fare[i]},,1912-04-{10 + i % 3},'
                     f"{alone[i]},{int(survived[i])}")
    return lines


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def test_kinds_of_a_passenger_table_with_reasons(tmp_path: Path) -> None:
    data = write(tmp_path / "passengers.csv", passengers())
    result = ingest_to(tmp_path / "raw.parquet", data, "survived", None, 0, 0, 0, impute="median")
    assert result["features"] == ["sex", "port", "age", "fare", "alone"]
    assert result["categorical"] == ["sex", "port", "alone"]
    assert result["left_out"] == {"passenger_id": "looks like an id", "name": "text, 300 distinct values (more than 50)",
                                  "cabin": "empty on every row", "boarded": "date/time", "survived": "the label"}
    assert result["missing_values"] == {"age": 43}  # blank, whitespace-only and token cells: missing, still numeric
    raw = pq.read_table(tmp_path / "raw.parquet")
    assert raw.schema.field("age").type == pa.float64() and raw.schema.field("sex").type == pa.string()
    assert set(raw.column("sex").to_pylist()) == {"male", "female"}  # trimmed
    assert raw.column("port").null_count == 2 and raw.column("age").null_count == 0  # NaN marks a missing number
    assert int(np.isnan(raw.column("age").to_numpy()).sum()) == 43
    assert raw.column_names[-4:] == ["passenger_id", "name", "cabin", "boarded"]  # passed through to predictions
    line = ingest_message(result)
    assert line.startswith(f"ingested 300 rows from {data}; features: sex (categorical, 2 values), port (categorical, 3 values), "
                           "age, fare, alone (categorical, 2 values); left out: passenger_id: looks like an id; "
                           "name: text, 300 distinct values (more than 50); cabin: empty on every row; boarded: date/time")
    assert "missing numeric values (age: 43) imputed from the train split" in line


def test_missing_numbers_are_refused_by_default_naming_both_ways_out(tmp_path: Path) -> None:
    data = write(tmp_path / "passengers.csv", passengers())
    with pytest.raises(DataError, match=r"missing, NaN or infinite values \(age: 43\); pass --impute median .* or --drop-invalid"):
        ingest_to(tmp_path / "raw.parquet", data, "survived", None, 0, 0, 0)
    assert not (tmp_path / "raw.parquet").exists()
    dropped = ingest_to(tmp_path / "raw.parquet", data, "survived", None, 0, 0, 0, drop_invalid=True)
    assert dropped["rows"] == 300 - 43 and dropped["dropped_rows"] == 43


def _run(tmp_path: Path, lines: list[str], **options) -> RunPaths:
    tmp_path.mkdir(parents=True, exist_ok=True)
    run = RunPaths.of(tmp_path / "run")
    ingest_to(run.raw, write(tmp_path / "in.csv", lines), "survived", None, 0, 0, 0, **options)
    normalize_run(run.root, 0.25, seed=5)
    engineer_run(run.root)
    return run


def test_imputation_and_vocabularies_are_fitted_on_the_train_split(tmp_path: Path) -> None:
    run = _run(tmp_path, passengers(), impute="median")
    normalizer = Normalizer.load(run.normalizer)
    train_raw = _train_raw(run)
    age = train_raw["age"]
    spec = {s["name"]: s for s in normalizer.numeric}["age"]
    assert spec["impute"] == float(np.median(age[~np.isnan(age)])) and spec["missing"] == int(np.isnan(age).sum())
    assert spec["mean"] == pytest.approx(np.nanmean(age)) and spec["std"] == pytest.approx(np.nanstd(age))
    assert {s["name"]: s["impute"] for s in normalizer.numeric}["fare"] is None  # no gap: no imputation, no indicator
    sex = {s["name"]: s for s in normalizer.categorical}["sex"]
    counts = {v: train_raw["sex"].count(v) for v in ("male", "female")}
    assert sex["vocabulary"] == sorted(counts, key=lambda v: -counts[v]) and sex["distinct"] == 2
    port = {s["name"]: s for s in normalizer.categorical}["port"]
    assert port["missing"] == train_raw["port"].count(None)
    names = input_names(normalizer)
    assert names[:5] == ["age", "fare", "age_sq", "fare_sq", "age_missing"]
    assert names[5:9] == [f"sex={sex['vocabulary'][0]}", f"sex={sex['vocabulary'][1]}", f"sex={UNSEEN}", f"sex={MISSING}"]
    assert pq.read_schema(run.features("train")).names == [*names, LABEL]


def _train_raw(run: RunPaths) -> dict:
    """raw.parquet's train rows, under the rule normalizer.json records (keyed by passenger_id, a row id)."""
    rule = SplitRule(**Normalizer.load(run.normalizer).split)
    assert rule.by == "id" and rule.key == ["passenger_id"]
    raw = pq.read_table(run.raw)
    test = pq.read_table(run.test_raw).column("passenger_id").to_numpy()
    codes = raw_split_codes(run.raw, rule)
    assert np.array_equal(np.sort(raw.column("passenger_id").to_numpy()[codes == 2]), np.sort(test))
    train = raw.filter(pa.array(codes == 0))
    return {"age": train.column("age").to_numpy(), "sex": train.column("sex").to_pylist(), "port": train.column("port").to_pylist()}


def test_the_stages_files_equal_the_reference_encode(tmp_path: Path) -> None:
    run = _run(tmp_path, passengers(), impute="mean")
    normalizer = Normalizer.load(run.normalizer)
    test_raw = pq.read_table(run.test_raw)
    columns = {s["name"]: test_raw.column(s["name"]).to_numpy() for s in normalizer.numeric}
    columns |= {s["name"]: np.array(test_raw.column(s["name"]).to_pylist(), dtype=object) for s in normalizer.categorical}
    expected = encode(columns, normalizer)
    features = pq.read_table(run.features("test"))
    got = np.stack([features.column(n).to_numpy() for n in input_names(normalizer)], axis=1)
    assert got.dtype == expected.dtype == np.float32 and got.shape == (test_raw.num_rows, len(input_names(normalizer)))
    np.testing.assert_array_equal(got, expected)
    assert got[:, input_names(normalizer).index("age_missing")].sum() > 0  # real gaps reached the indicator
    assert pq.read_table(run.features("test")).column(LABEL).to_pylist() == test_raw.column(LABEL).to_pylist()


def test_category_codes_unseen_beyond_the_cap_and_missing() -> None:
    assert vocabulary({"b": 3, "a": 3, "c": 5, "d": 1}, cap=3) == ["c", "a", "b"]  # most frequent first, ties by value
    values = ["c", None, "d", "a", "zz"]
    codes = category_codes(np.array(values, dtype=object), ["c", "a", "b"])
    assert codes.tolist() == [0, 4, 3, 1, 3]  # d (beyond the cap) and zz (new): unseen; None: missing
    assert category_codes_arrow(pa.array(values), ["c", "a", "b"]).tolist() == codes.tolist()
    z = standardize(np.array([1.0, 5.0]), 2.0, 4.0)
    np.testing.assert_allclose(destandardize(z, 2.0, 4.0), [1.0, 5.0])


def test_values_cut_by_the_vocabulary_cap_activate_no_slot(tmp_path: Path) -> None:
    lines = ["grade,score,survived"] + [f"g{i % 6},{i % 11},{i % 2}" for i in range(240)]
    run = _run(tmp_path, lines, max_categories=6)
    normalizer = Normalizer.load(run.normalizer)
    assert normalizer.categorical[0]["distinct"] == 6 and len(normalizer.categorical[0]["vocabulary"]) == 6
    capped = Normalizer(normalizer.features, normalizer.numeric, [{**normalizer.categorical[0], "vocabulary": ["g0"]}],
                        normalizer.classes, 0, 0)
    inputs = encode({"score": np.array([1.0, 2.0]), "grade": np.array(["g0", "g5"], dtype=object)}, capped)
    assert inputs[:, -3:].tolist() == [[1, 0, 0], [0, 0, 0]]  # g5, beyond the cap: unseen, so no slot at all


@pytest.mark.parametrize("options, message", [
    (dict(categorical=["nope"]), r"--categorical names unknown column\(s\): nope"),
    (dict(categorical=["passenger_id"]), r"--categorical column 'passenger_id' has 300 distinct values, more than --max-categories 50"),
    (dict(categorical=["fare"]), r"--categorical column 'fare' cannot be categorical: not integer numbers"),
    (dict(features=["sex", "name"]), r"cannot be features: name \(text, 300 distinct values \(more than 50\)\)"),
    (dict(features=["sex", "cabin"]), r"cannot be features: cabin \(empty on every row\)"),
    (dict(features=["sex", "boarded"]), r"cannot be features: boarded \(date/time\)"),
])
def test_bad_column_options_fail_in_one_line_and_write_nothing(tmp_path: Path, options: dict, message: str) -> None:
    data = write(tmp_path / "passengers.csv", passengers())
    with pytest.raises(DataError, match=message) as error:
        ingest_to(tmp_path / "raw.parquet", data, "survived", options.pop("features", None), 0, 0, 0, impute="median", **options)
    assert "\n" not in str(error.value) and not (tmp_path / "raw.parquet").exists()


def test_named_integer_categorical_and_features_naming_categories(tmp_path: Path) -> None:
    lines = ["pclass,fare,sex,survived"] + [f"{1 + i % 3},{i * 1.5},{'mf'[i % 2]},{(i // 2) % 2}" for i in range(60)]
    data = write(tmp_path / "in.csv", lines)
    result = ingest_to(tmp_path / "raw.parquet", data, "survived", ["pclass", "sex"], 0, 0, 0, categorical=["pclass"])
    assert result["features"] == ["pclass", "sex"] and result["categorical"] == ["pclass", "sex"]
    assert pq.read_table(tmp_path / "raw.parquet").column("pclass").to_pylist()[:3] == ["1", "2", "3"]  # canonical text
    numeric = ingest_to(tmp_path / "raw2.parquet", data, "survived", None, 0, 0, 0, exclude=["sex"])
    assert numeric["features"] == ["pclass", "fare"] and numeric["categorical"] == []  # integers stay numbers unless named


def test_unknown_impute_strategy_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="invalid value for --impute: 'mode'"):
        build_config(impute="mode")
    assert build_config(impute="median", max_categories=20, categorical=["a"]).max_categories == 20


def test_drift_compares_categories_and_names_new_values(tmp_path: Path) -> None:
    reference = read_json(_run(tmp_path / "a", passengers(), impute="median").data_profile)
    lines = passengers(seed=9)
    lines = [lines[0]] + [line.replace(",S,", ",Two weeks,") if i % 4 == 0 else line for i, line in enumerate(lines[1:])]
    current = read_json(_run(tmp_path / "b", lines, impute="median").data_profile)
    assert current["kinds"]["port"] == "categorical" and "sample" in current["sketch"]["age"]
    report = drift.check(reference, current, 0.25, "run-1")
    assert report["new_values"]["port"][0][0] == "Two weeks" and report["psi"]["port"] > 0.25
    assert "port" in report["drifted"] and "age" in report["psi"] and report["psi"]["age"] < 0.25
    line = drift.summary(report)
    share = report["new_values"]["port"][0][1]
    assert f"port: new value 'Two weeks' in {100 * share:.1f} % of rows" in line
    changed = {**current, "kinds": {**current["kinds"], "port": "numeric"}, "types": {**current["types"], "port": "double"}}
    assert drift.check(reference, changed, 0.25)["schema"] == ["changed kind(s) port categorical → numeric"]


def test_partitions_split_and_normalize_as_the_same_rows_in_one_file(tmp_path: Path) -> None:
    # a row's split is a function of the row: the merged partitions give the single file's splits and statistics
    folder = tmp_path / "parts"
    folder.mkdir()
    rng = np.random.default_rng(2)
    tables = []
    for index, n in enumerate((120, 90)):
        table = pa.table({"plan": pa.array(rng.choice(["a", "b", "c", None], n, p=[0.5, 0.3, 0.15, 0.05])),
                          "x": pa.array(np.where(rng.random(n) < 0.1, np.nan, rng.normal(3, 2, n))),
                          "y": pa.array(rng.choice(["no", "yes"], n))})
        pq.write_table(table, folder / f"part-{index}.parquet")
        tables.append(table)
    run = RunPaths.of(tmp_path / "run")
    parts = [ingest_partition_to(run.raw_part(i), folder, str(folder / f"part-{i}.parquet"), i, "y", None,
                                 impute="mean") for i in range(2)]
    merged = merge_partitions_to(run.raw, [run.raw_part(i) for i in range(2)], split_files(run.root), parts, folder, "y", False,
                                 impute="mean", test_fraction=0.25, validation_fraction=0.15, seed=0)
    assert merged["categorical"] == ["plan"] and merged["vocabulary_sizes"] == {"plan": 3} and not (run.root / "raw-parts").exists()
    single = RunPaths.of(tmp_path / "single")
    pq.write_table(pa.concat_tables(tables), tmp_path / "all.parquet")
    ingest_to(single.raw, tmp_path / "all.parquet", "y", None, 0, 0, 0, impute="mean")
    alone = normalize_run(single.root, 0.25, 0, validation_fraction=0.15)
    assert {k: merged[k] for k in ("train_rows", "validation_rows", "test_rows")} == \
        {k: alone[k] for k in ("train_rows", "validation_rows", "test_rows")}
    # the same rows in each split; the statistics agree to float rounding (the blocks they are summed in differ)
    assert merged["validation_rows"] > 0 and Normalizer.load(run.normalizer).split == Normalizer.load(single.normalizer).split
    for ours, theirs in [(run.test_raw, single.test_raw), *((run.normalized(s), single.normalized(s)) for s in SPLITS)]:
        ours, theirs = pq.read_table(ours), pq.read_table(theirs)
        assert ours.drop_columns(["x"]).equals(theirs.drop_columns(["x"])) and ours.num_rows > 0
        np.testing.assert_allclose(ours.column("x").to_numpy(), theirs.column("x").to_numpy(), rtol=1e-6)  # NaN == NaN
    # and the statistics are the train rows' own, counted here from the rows the split put in train
    codes = raw_split_codes(run.raw, split_rule(pq.read_schema(run.raw), 0, 0.25, 0.15))
    train = pa.concat_tables(tables).filter(pa.array(codes == 0))
    plans = train.column("plan").to_pylist()
    x = train.column("x").to_numpy()
    normalizer = Normalizer.load(run.normalizer)
    counts = {v: plans.count(v) for v in ("a", "b", "c")}
    assert normalizer.categorical[0]["vocabulary"] == vocabulary(counts, 50) and normalizer.categorical[0]["missing"] == plans.count(None)
    spec = normalizer.numeric[0]
    assert spec["impute"] == pytest.approx(np.nanmean(x)) and spec["missing"] == int(np.isnan(x).sum())
    assert spec["std"] == pytest.approx(np.nanstd(x)) and read_json(run.data_profile)["kinds"] == {"plan": "categorical", "x": "numeric"}


def test_a_column_of_numbers_with_a_stray_word_is_refused_by_name_not_left_out(tmp_path: Path) -> None:
    # a typo deep in a numeric column: refused, naming the column, the count and the word; --exclude goes on without it
    lines = [f"{i * 0.5},{i % 7},{i % 2}" for i in range(3000)]
    lines[2990] = "oops,3,1"
    data = tmp_path / "typo.csv"
    data.write_text("a,b,y\n" + "\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"column 'a' holds numbers, but 1 cell is not a number \(first: 'oops'\)"):
        ingest_to(tmp_path / "raw.parquet", data, "y", None, 0, 0, 1)
    assert not (tmp_path / "raw.parquet").exists()
    kept = ingest_to(tmp_path / "raw.parquet", data, "y", None, 0, 0, 1, exclude=["a"])
    assert kept["features"] == ["b"] and kept["left_out"]["a"] == "excluded"
    # a text column that merely holds some numbers is text, left out or categorical as usual
    mixed = tmp_path / "mixed.csv"
    mixed.write_text("code,b,y\n" + "".join(f"{'A' if i % 3 else i},{i % 5},{i % 2}\n" for i in range(300)))
    assert "code" in ingest_to(tmp_path / "mixed.parquet", mixed, "y", None, 0, 0, 1)["left_out"]


@pytest.mark.parametrize("missing, expected", [(0, [[1, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]),
                                               (5, [[1, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 1]])])
def test_unseen_values_carry_nothing_and_missing_ones_only_a_trained_slot(missing: int, expected: list) -> None:
    # scikit-learn's handle_unknown="ignore": "zz" (never seen) is all zeros; a missing cell takes the missing
    # slot only when the train split had missing cells in the column (its count in the normalizer).
    spec = {"name": "c", "vocabulary": ["a", "b"], "missing": missing, "distinct": 2}
    normalizer = Normalizer(["c"], [], [spec], [0, 1], 0, 0)
    inputs = encode({"c": np.array(["a", "zz", None], dtype=object)}, normalizer)
    assert inputs.tolist() == expected


def test_derived_names_never_collide_with_a_users_columns(tmp_path: Path) -> None:
    # `x` squared would be named `x_sq`, which the table already has: the derived name takes a suffix instead.
    lines = ["x,x_sq,x_sq_2,survived"] + [f"{i % 7},{(i * 3) % 11},{i % 5},{i % 2}" for i in range(80)]
    run = _run(tmp_path, lines)
    features = pq.read_table(run.features("train"))
    assert features.column_names == ["x", "x_sq", "x_sq_2", "x_sq_3", "x_sq_sq", "x_sq_2_sq", "label"]
    z = features.column("x").to_numpy()
    np.testing.assert_array_equal(features.column("x_sq_3").to_numpy(), z * z)  # x's square, renamed
    assert features.column("x_sq").to_numpy().tolist() != features.column("x_sq_3").to_numpy().tolist()


def test_category_codes_of_a_dictionary_column_are_the_reference_codes() -> None:
    # normalize reads raw.parquet's text through its dictionary pages; the codes must be `category_codes`'
    from eagergraph.data.preprocessing import category_codes, category_codes_arrow

    values = ["b", None, "a", "zz", "b", None, "c"]
    vocabulary = ["b", "a", "c"]
    expected = category_codes(np.array(values, dtype=object), vocabulary)
    assert expected.tolist() == [0, 4, 1, 3, 0, 4, 2]
    assert category_codes_arrow(pa.array(values).dictionary_encode(), vocabulary).tolist() == expected.tolist()
    assert category_codes_arrow(pa.array([None, None], pa.string()).dictionary_encode(), vocabulary).tolist() == [4, 4]


def test_a_parquet_input_read_through_dictionaries_gives_the_csv_input_s_run(tmp_path: Path) -> None:
    # ingest scans a Parquet file's text columns as Arrow dictionaries and normalize reads raw.parquet's the same
    # way: the files and the statistics must be those of the same table given as CSV (read as plain text)
    csv_run = _run(tmp_path / "csv", passengers(), impute="median")
    table = pa.csv.read_csv(tmp_path / "csv" / "in.csv")
    assert pa.types.is_string(table.schema.field("sex").type)
    pq.write_table(table, tmp_path / "in.parquet")
    run = RunPaths.of(tmp_path / "parquet")
    ingest_to(run.raw, tmp_path / "in.parquet", "survived", None, 0, 0, 0, impute="median")
    normalize_run(run.root, 0.25, seed=5)
    engineer_run(run.root)
    for name in ("raw", "test_raw"):
        ours, theirs = pq.read_table(getattr(run, name)), pq.read_table(getattr(csv_run, name))
        assert ours.schema.field("sex").type == pa.string()
        assert ours.select(["sex", "port", LABEL]).equals(theirs.select(["sex", "port", LABEL]))
        np.testing.assert_array_equal(ours.column("age").to_numpy(), theirs.column("age").to_numpy())  # NaN as NaN
    assert Normalizer.load(run.normalizer).categorical == Normalizer.load(csv_run.normalizer).categorical
    for split in SPLITS:
        assert pq.read_table(run.features(split)).equals(pq.read_table(csv_run.features(split)))


def test_a_text_column_s_values_are_counted_across_batches_up_to_the_tracking_cap(monkeypatch) -> None:
    import eagergraph.data.columns as columns

    monkeypatch.setattr(columns, "TRACK", 4)
    profile = columns.ColumnProfile("city", pa.string())
    for batch in (["b", "a", " b", None, "NA"], ["c", "a", "b"], ["d", "e", "a", "f"]):
        profile.update(pa.array(batch, pa.string()), count_values=False)
    assert profile.counts == {"b": 3, "a": 3, "c": 1, "d": 1}  # first seen first; " b" is "b"; NA is missing
    assert profile.missing == 2 and profile.rows == 12
    assert profile.overflow == 2 and profile.distinct == 6  # "e" and "f" came past the cap of 4

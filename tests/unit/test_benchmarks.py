"""The benchmark scripts' own logic on tiny tables: options, column rules, splits, generated data, result tables.

The scripts live in benchmarks/ (not a package) and import scikit-learn, Polars and DuckDB only inside the
functions that need them, so this tier runs without the `bench` extra.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"benchmark_{name}", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


quality = _load("quality")
data_path = _load("data_path")
stage_memory = _load("stage_memory")

TINY_CSV = """id,age,sex,name,empty,fare,survived
1,22, ,Braund,,7.25,0
2,38,female,Cumings,,71.28,1
3,?,female,Heikkinen,,7.92,1
4,35,male,"Futrelle, Mrs",,53.1,1
5, ,male,Allen,,8.05,0
6,54,male,McCarthy,,51.86,0

"""


def test_quality_options_choose_tables_and_refuse_unknown_ones(capsys):
    args = quality.parse_args(["--tables", "census, cars", "--epochs", "3", "--seed", "7"])
    assert (args.tables, args.epochs, args.seed) == (["census", "cars"], [3], 7)
    assert quality.parse_args(["--epochs", "5,10,20"]).epochs == [5, 10, 20]
    assert quality.parse_args([]).tables == list(quality.TABLES) and quality.parse_args([]).eagergraph_options is None
    assert quality.parse_args(["--eagergraph-options=--drop-invalid --max-categories 20"]).eagergraph_options == \
        ("--drop-invalid", "--max-categories", "20")
    for bad in (["--tables", "census,nope"], ["--epochs", "0"], ["--epochs", "5,x"], ["--tables", ","]):
        with pytest.raises(SystemExit) as exit_:
            quality.parse_args(bad)
        assert exit_.value.code == 2
    assert "nope" in capsys.readouterr().err


def test_every_listed_table_is_committed_with_its_source_named():
    sources = (BENCHMARKS / "data" / "SOURCES.md").read_text()
    for table in quality.TABLES.values():
        assert (BENCHMARKS / "data" / table.file).is_file()
        assert f"`{table.file}`" in sources
        assert table.label in quality.read_raw(BENCHMARKS / "data" / table.file).column_names


def test_blank_and_token_cells_are_missing_numbers_and_text_columns_get_their_kind(tmp_path):
    path = tmp_path / "tiny.csv"
    path.write_text(TINY_CSV)
    table = quality.tidy(quality.read_raw(path))
    assert table.num_rows == 6  # the empty last line is not a row
    assert table.schema.field("age").type == pa.float64() and table.column("age").null_count == 2
    assert table.column("sex").to_pylist() == [None, "female", "female", "male", "male", "male"]
    assert table.column("name").to_pylist()[3] == "Futrelle, Mrs"  # a quoted comma stays in its cell
    kinds = quality.column_kinds(table, "survived", ids=quality.id_columns(table), max_categories=3)
    assert kinds == {"id": "left out: looks like an id", "age": "numeric", "sex": "categorical",
                     "name": "left out: text, 6 distinct values (more than 3)", "empty": "left out: empty on every row",
                     "fare": "numeric", "survived": "left out: the label"}
    assert quality.column_kinds(table, "survived", categorical=("id",), ids={"id"}, max_categories=10)["id"] == "categorical"


def test_row_ids_leave_every_other_cell_as_it_was(tmp_path):
    source, out = tmp_path / "tiny.csv", tmp_path / "with-id.csv"
    source.write_text(TINY_CSV)
    assert quality.with_row_id(source, out) == 6
    before, after = quality.read_raw(source), quality.read_raw(out)
    assert after.column(quality.ROW_ID).to_pylist() == [str(i) for i in range(6)]
    assert after.drop_columns([quality.ROW_ID]).equals(before)


def test_own_split_is_stratified_exact_and_seeded():
    labels = np.array(["a"] * 10 + ["b"] * 20)
    mask = quality.stratified_split(labels, "binary", 0.2, seed=1)
    assert (mask[labels == "a"].sum(), mask[labels == "b"].sum()) == (2, 4)
    assert np.array_equal(mask, quality.stratified_split(labels, "binary", 0.2, seed=1))
    assert not np.array_equal(mask, quality.stratified_split(labels, "binary", 0.2, seed=2))
    target = np.linspace(0.0, 1.0, 100)
    mask = quality.stratified_split(target, "regression", 0.2, seed=1)
    assert mask.sum() == 20 and mask[:50].sum() == 10  # two per decile of the target


def test_quality_table_shows_gaps_targets_and_failures():
    met = quality.Outcome("census", "binary", 32561, None, "auc", eagergraph=0.905, sklearn={"logistic": 0.9, "hgb": 0.93},
                          stopping="kept 7 of 10, no improvement for 3 epochs")
    missed = quality.Outcome("cars", "regression", 398, 50, "r2", eagergraph=0.80, sklearn={"ridge": 0.85, "hgb": 0.87})
    failed = quality.Outcome("penguins", "multiclass", 344, 30, "accuracy", eagergraph_error="no such option: --task | x",
                             sklearn={"logistic": 0.99, "hgb": 0.98})
    lines = quality.format_table([met, missed, failed]).splitlines()
    assert len(lines) == 7 and all(line.count("|") == 11 for line in lines[:5])
    assert lines[2].startswith("| census | binary | 32,561 | default | kept 7 of 10, no improvement for 3 epochs |")
    assert lines[6].startswith("scikit-learn on the script's own seeded stratified 80/20 split for penguins ")
    assert len(quality.format_table([met]).splitlines()) == 3
    assert "| auc 0.905 | 0.900 | 0.930 | +0.005 | yes (within 0.01) |" in lines[2]
    assert "| r2 0.800 | 0.850 | 0.870 | -0.050 | no (within 0.03) |" in lines[3]
    assert "eagergraph failed: no such option: --task / x" in lines[4] and lines[4].endswith("| – | no (within 0.02) |")
    assert (met.met, missed.met, failed.met) == (True, False, False)
    assert quality.one_line("Traceback\neagergraph: error: No such option: --impute\n\n") == "No such option: --impute"
    assert quality.one_line("eagergraph: titanic.csv: feature column(s) are not numeric: Sex") == \
        "titanic.csv: feature column(s) are not numeric: Sex"


def test_data_path_options():
    args = data_path.parse_args(["--rows", "1000", "--categorical", "3", "--contenders", "polars,pyarrow", "--whole-command"])
    assert (args.rows, args.features, args.categorical, args.contenders, args.whole_command) == \
        (1000, 10, 3, ["polars", "pyarrow"], True)
    assert data_path.parse_args(["--repeat", "3"]).repeat == 3 and data_path.parse_args([]).repeat == 1
    for bad in (["--contenders", "spark"], ["--rows", "5"], ["--categorical", "-1"], ["--repeat", "0"]):
        with pytest.raises(SystemExit) as exit_:
            data_path.parse_args(bad)
        assert exit_.value.code == 2


def test_data_path_prints_each_cached_stage_s_hit_as_a_share_of_its_first_run():
    first = {"seconds": {"ingest": 0.40, "normalize": 1.50, "engineer-features": 0.30, "train-graph": 2.0}}
    hit = {"seconds": {"ingest": 0.02, "normalize": 0.15, "engineer-features": 0.03, "train-graph": 2.1}}
    assert data_path.cache_hit_line(first, hit) == ("cache hit: ingest 0.020 s of 0.40 s (5 %), normalize 0.150 s of "
                                                    "1.50 s (10 %), engineer-features 0.030 s of 0.30 s (10 %)")
    assert "not measured" in data_path.cache_hit_line(first, {"contender": "again", "error": "exit 2"})


def test_generated_file_is_seeded_block_by_block_with_categories_of_5_to_20_values(tmp_path):
    first, second, other = tmp_path / "a.parquet", tmp_path / "b.parquet", tmp_path / "c.parquet"
    data_path.generate(first, 2500, n_features=4, categorical=3, seed=3, block_rows=1000)
    data_path.generate(second, 2500, n_features=4, categorical=3, seed=3, block_rows=1000)
    data_path.generate(other, 2500, n_features=4, categorical=3, seed=4, block_rows=1000)
    file = pq.ParquetFile(first)
    assert file.metadata.num_rows == 2500 and file.num_row_groups == 3
    table = file.read()
    assert table.column_names == ["x0", "x1", "x2", "x3", "cat0", "cat1", "cat2", "label"]
    assert table.equals(pq.read_table(second)) and not table.equals(pq.read_table(other))
    assert data_path.category_sizes(3) == [5, 12, 20]
    for name, size in zip(["cat0", "cat1", "cat2"], data_path.category_sizes(3)):
        assert len(set(table.column(name).drop_null().to_pylist())) == size
        assert 0 < table.column(name).null_count < 100  # about 1 % missing cells
    assert set(table.column("label").to_pylist()) == {0, 1}
    assert data_path.feature_names(table.schema) == (["x0", "x1", "x2", "x3"], ["cat0", "cat1", "cat2"])


def test_a_contender_reports_its_stages_and_peak_memory_and_a_failure_is_a_line(tmp_path):
    file = tmp_path / "data.parquet"
    data_path.generate(file, 100, n_features=2, seed=1)
    floor = data_path.child("pyarrow", file, 1)
    assert list(floor["seconds"]) == ["read + write"] and floor["peak_rss"] > 0 and floor["cpu"] > 0
    broken = data_path.child("pyarrow", tmp_path / "absent.parquet", 1)
    assert broken["error"].startswith("FileNotFoundError")
    slower = {**floor, "total": floor["total"] + 1}
    assert data_path.fastest(data_path.fastest(None, slower), floor) is floor
    assert data_path.fastest(data_path.fastest(broken, slower), floor) is floor
    assert data_path.fastest(floor, broken) is floor
    lines = data_path.format_table([floor, broken], rows=100).splitlines()
    assert lines[2].startswith("| pyarrow | ") and " GiB | read + write " in lines[2]
    assert lines[3].startswith("| pyarrow | – | – | – | – | – | failed: FileNotFoundError")


def test_stage_memory_repeats_the_test_split_in_order(tmp_path: Path) -> None:
    path = tmp_path / "test_raw.parquet"
    pq.write_table(pa.table({"x": [1.0, 2.0, 3.0], "label": [0, 1, 0]}), path, row_group_size=2)
    assert stage_memory.repeat_rows(path, 3) == 9
    assert pq.read_table(path).column("x").to_pylist() == [1.0, 2.0, 3.0] * 3
    assert [p.name for p in tmp_path.iterdir()] == ["test_raw.parquet"]  # written under another name, then renamed

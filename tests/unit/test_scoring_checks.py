"""The scoring flow's pure parts: its config, the output names, the kind check with its row, and the drift counts
compared by check-data's own rules (no TensorFlow, no server)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from eagergraph.core.serving_inputs import ModelInputs, serving_columns
from eagergraph.errors import ConfigError, DataError
from eagergraph.registry import drift
from eagergraph.rundir.paths import ScoringPaths, scored_name
from eagergraph.scoring.check import ProfileCounts, check_block, check_file, drift_report
from eagergraph.scoring.config import build_scoring_config, read_scoring_file
from eagergraph.scoring.inputs import check_output, input_files

INPUTS = ModelInputs(["size", "colour"], {"size": "numeric", "colour": "categorical"}, {"colour": ["red", "blue"]},
                     frozenset(), {"size": "size", "colour": "colour"})


def _reference(rng: np.random.Generator) -> dict:
    sizes = rng.normal(0, 1, 4000)
    header = {"features": ["size", "colour"], "kinds": {"size": "numeric", "colour": "categorical"},
              "types": {"size": "double", "colour": "string"}, "classes": [0, 1],
              "categories": {"colour": {"counts": {"red": 2000, "blue": 2000}, "missing": 0}}}
    return drift.profile(header, {"size": sizes})


def _blocks(size: np.ndarray, colour: list) -> list[pa.RecordBatch]:
    return pa.table({"size": size, "colour": colour, "id": np.arange(len(size))}).to_batches(max_chunksize=1000)


def test_drift_is_named_per_column_by_check_datas_rules() -> None:
    rng = np.random.default_rng(0)
    reference = _reference(rng)
    same = ProfileCounts(reference, INPUTS)
    check_file(_blocks(rng.normal(0, 1, 3000), ["red", "blue"] * 1500), INPUTS, Path("new.csv"), same)
    assert drift_report(reference, same, 0.25, "run-1")["status"] == "ok"
    shifted = ProfileCounts(reference, INPUTS)
    check_file(_blocks(rng.normal(2, 1, 3000), ["red", "blue", "green"] * 1000), INPUTS, Path("new.csv"), shifted)
    report = drift_report(reference, shifted, 0.25, "run-1")
    assert report["drifted"] == ["size", "colour"] and report["rows"] == 3000
    assert report["new_values"]["colour"][0][0] == "green"
    assert "drift against the model's training run run-1 in size (PSI" in report["line"]


def test_binned_counts_give_the_psi_of_the_same_rows_as_a_sample() -> None:
    rng = np.random.default_rng(1)
    reference, values = _reference(rng), rng.normal(0.5, 1, 1500)
    counted = ProfileCounts(reference, INPUTS)
    counted.add({"size": values, "colour": np.array(["red"] * 1500, dtype=object)})
    as_sample = {**counted.profile(reference), "sketch": {"size": {"sample": values.tolist()}}}
    del as_sample["binned"]
    assert drift.check(reference, counted.profile(reference), 0.25)["psi"]["size"] == \
        drift.check(reference, as_sample, 0.25)["psi"]["size"] > 0.1


def test_a_value_of_the_wrong_kind_is_named_with_its_row_across_blocks() -> None:
    sizes = [str(v) for v in range(2500)]
    sizes[2345] = "large"
    counts = ProfileCounts(None, INPUTS)
    with pytest.raises(DataError, match=r"^new.csv: column size holds 'large' in row 2346; the model takes a number"):
        check_file(_blocks(np.array(sizes, dtype=object), ["red"] * 2500), INPUTS, Path("new.csv"), counts)


def test_config_options_and_output_names(tmp_path: Path) -> None:
    config = build_scoring_config(input=tmp_path / "incoming", model_name="churn")
    assert config.output_folder == tmp_path.resolve() / "scored" and config.drift_threshold == 0.25
    with pytest.raises(ConfigError, match=r"^invalid value for --model-name: 'a b'"):
        build_scoring_config(input="x.csv", model_name="a b")
    with pytest.raises(ConfigError, match=r"^invalid value for --drift-threshold: 0"):
        build_scoring_config(input="x.csv", drift_threshold=0)
    folder = tmp_path / "incoming"
    assert scored_name(folder / "2026" / "part-0.parquet", folder) == "2026-part-0"
    assert ScoringPaths(tmp_path).predictions("day") == tmp_path / "day.predictions.parquet"


def test_inputs_and_output_folder_refusals(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    with pytest.raises(DataError, match="the folder holds no Parquet files"):
        input_files(tmp_path / "in")
    (tmp_path / "file").write_text("x")
    with pytest.raises(DataError, match=r"--output .*file: is a file"):
        check_output(tmp_path / "file", tmp_path / "in")
    with pytest.raises(DataError, match="lies inside the input folder"):
        check_output(tmp_path / "in" / "scored", tmp_path / "in")


def test_the_default_output_of_the_current_folder_is_its_sibling_and_named_in_full(tmp_path: Path,
                                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """`score --input .`: the default output is `scored/` beside the folder, not inside it, and a message about it
    names that folder in full, not an `--output` the user never gave."""
    (tmp_path / "in").mkdir()
    monkeypatch.chdir(tmp_path / "in")
    config = build_scoring_config(input=".")
    assert config.output_folder == tmp_path.resolve() / "scored"
    check_output(config.output_folder, config.input, config.output_named)  # beside the input folder: accepted
    (tmp_path / "scored").write_text("a file where the default folder goes")
    with pytest.raises(DataError, match="^" + re.escape(f"the default output folder {tmp_path.resolve() / 'scored'}: is a file")):
        check_output(config.output_folder, config.input, config.output_named)
    given = build_scoring_config(input=".", output="elsewhere")
    assert given.output_named == "--output elsewhere"


def test_checked_columns_are_what_the_model_takes() -> None:
    """The scoring pass converts each block once (`check_block`) and feeds those columns to the model as they are
    (`Serving.feed`): they are a fixed point of the conversion, so a second one would change nothing."""
    block = pa.table({"size": ["1.5", " 2", "NA"], "colour": ["red", " blue ", None]})
    columns = check_block(block, INPUTS, Path("new.csv"), ProfileCounts(None, INPUTS))
    again = serving_columns(columns, INPUTS, "model")
    np.testing.assert_array_equal(columns["size"], [1.5, 2.0, np.nan])
    np.testing.assert_array_equal(again["size"], columns["size"])
    assert again["colour"].tolist() == columns["colour"].tolist() == ["red", "blue", ""]


def test_a_scoring_file_gives_the_config_and_its_own_schedule(tmp_path: Path) -> None:
    """`serve --scoring FILE`: `score`'s options by their config names, paths relative to the file, the schedule
    apart; a `[scoring]` table beside a --config file's `[eagergraph]` one is read alone."""
    (tmp_path / "conf").mkdir()
    file = tmp_path / "conf" / "schedule.toml"
    file.write_text('[eagergraph]\nrows = 200\n\n[scoring]\ninput = "incoming"\noutput = "../scored"\n'
                    'model_name = "churn"\nfail_on_drift = true\ncron = "0 6 * * *"\n')
    config, when = read_scoring_file(file)
    assert when == {"cron": "0 6 * * *"}
    assert config.input == (tmp_path / "conf" / "incoming").resolve() and config.output == (tmp_path / "scored").resolve()
    assert config.model_name == "churn" and config.fail_on_drift and config.artifacts == Path("artifacts")
    file.write_text('input = "new.csv"\ninterval = "daily"\n')
    with pytest.raises(ConfigError, match=r"^--scoring .*schedule.toml: interval = 'daily': give a number of seconds"):
        read_scoring_file(file)
    file.write_text('input = "new.csv"\ninterval = 60\nmodel_nmae = "churn"\n')
    with pytest.raises(ConfigError, match=r"schedule.toml: unknown option 'model_nmae'"):
        read_scoring_file(file)
    with pytest.raises(ConfigError, match=r"^scoring file not found: .*absent.toml"):
        read_scoring_file(tmp_path / "absent.toml")
    file.write_text('scoring = "other.toml"\n')  # a key named like the table, holding a value: one line, not a traceback
    with pytest.raises(ConfigError, match=r"^scoring file .*schedule.toml: scoring must be a table \(\[scoring\]\)"):
        read_scoring_file(file)

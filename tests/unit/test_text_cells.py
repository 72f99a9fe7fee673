"""One rule for a text cell (`columns.canonical_text`): trimming (Unicode whitespace too), the missing tokens,
booleans in any case, for features and the label alike."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from eagergraph.data.cells import MISSING_TOKENS, WHITESPACE, canonical_cell, canonical_text
from eagergraph.data.ingest import ingest_to
from eagergraph.data.labels import label_cells


@pytest.mark.parametrize("cell, expected", [
    ("  male ", "male"), ("\u00a0male\u3000", "male"), ("\ufeffmale\u2028", "male"), ("\tS\r\n", "S"),
    ("True", "true"), ("TRUE", "true"), (" true ", "true"), ("False", "false"), ("fAlSe", "false"),
    ("NA", None), (" N/A ", None), ("\u00a0", None), ("", None), ("null", None), ("None", None), (None, None),
    ("Truely", "Truely"), ("NAN!", "NAN!"), ("a b", "a b"),  # inner spaces and other words as written
])
def test_a_text_cell_is_trimmed_its_missing_tokens_missing_and_booleans_one_value(cell: str | None,
                                                                                  expected: str | None) -> None:
    assert canonical_cell(cell) == expected


def test_booleans_and_integers_of_other_types_take_the_same_text() -> None:
    assert canonical_text(pa.array([True, False, None])).to_pylist() == ["true", "false", None]
    assert canonical_text(pa.array([3, -1, None])).to_pylist() == ["3", "-1", None]
    assert canonical_cell(True) == canonical_cell("TRUE") == canonical_cell(" true\u00a0") == "true"


def test_every_missing_token_and_whitespace_character_is_covered() -> None:
    padded = [f"{c}{token}{c}" for token in MISSING_TOKENS for c in WHITESPACE]
    assert canonical_text(pa.array(padded)).null_count == len(padded)


def test_a_label_with_missing_tokens_and_trailing_spaces_keeps_its_two_classes(tmp_path: Path) -> None:
    # The table: a label of "yes", "no", "yes " and "NA" cells was a four-class task.
    assert label_cells(pa.array(["yes", "yes ", "NA", " no", None])).to_pylist() == ["yes", "yes", "", "no", None]
    rows = [f"{i},{i % 5},{['yes', 'no', 'yes ', ' no', 'NA'][i % 5]}" for i in range(60)]
    (tmp_path / "t.csv").write_text("a,b,answer\n" + "\n".join(rows) + "\n")
    summary = ingest_to(tmp_path / "raw.parquet", tmp_path / "t.csv", "answer", None, 0, 0, 0, drop_invalid=True)
    assert summary["task"] == "binary" and summary["dropped_rows"] == 12  # the NA rows: no class
    assert sorted(set(pq.read_table(tmp_path / "raw.parquet").column("label").to_pylist())) == [0, 1]


def test_a_column_worked_on_its_distinct_values_takes_the_cell_by_cell_rule() -> None:
    # canonical_text works on a dictionary's values (Parquet text read through its dictionary pages) or, from
    # DICTIONARY_AT cells of few values, on a plain column's distinct values: both must equal the rule cell by cell
    from eagergraph.data.cells import DICTIONARY_AT

    cells = [" male", "TRUE", "NA", None, "female\u00a0", "true", "?", "x", "\ufeffx"]
    column = pa.array(cells * (DICTIONARY_AT // len(cells) + 1))
    expected = [canonical_cell(cell) for cell in cells] * (DICTIONARY_AT // len(cells) + 1)
    assert len(column) >= DICTIONARY_AT
    assert canonical_text(column).to_pylist() == expected
    assert canonical_text(column.dictionary_encode()).to_pylist() == expected
    chunked = pa.chunked_array([column.slice(0, 10).dictionary_encode(), column.slice(10).dictionary_encode()])
    assert canonical_text(chunked).to_pylist() == expected
    assert canonical_text(pa.array(["a", "b"]).dictionary_encode()).type == pa.string()

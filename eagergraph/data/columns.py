"""What each column of the user's data holds, learnt in one pass over the input in bounded memory (`ColumnProfile`);
`data/selection.py` decides from it which columns become features.

A column's kind is decided from that pass and the options (`selection.choose_columns`):
numeric (numbers, with blank / whitespace-only / missing-token cells as missing values), categorical (text or
boolean with at most `max_categories` distinct values, or integer / text columns named with `--categorical`), or
left out with a reason (too many distinct text values, looks like a row id, date/time, empty on every row).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from eagergraph.data.cells import canonical_dictionary, canonical_text, is_number, is_text

NUMBER = r"^[+-]?((\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|[Ii]nf(inity)?)$"  # infinite values are numbers (refused later)
INTEGER = r"^[+-]?\d+$"
DATE = r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$"  # ISO dates and times written as text
TRACK = 100_000  # distinct values counted exactly per text column; beyond, a column is reported as "more than"


# ---------------------------------------------------------------- one pass: what each column holds


@dataclass
class ColumnProfile:
    """What a pass over the rows learned about one column: missing cells, whether every present cell is a number
    (an integer), and its distinct values with their counts (text, boolean and named columns, up to TRACK)."""

    name: str
    type: pa.DataType
    rows: int = 0
    missing: int = 0
    nonfinite: int = 0
    numeric: bool = True
    integer: bool = True
    datelike: bool = True  # every present cell is an ISO date or time written as text
    values: pa.Array | None = None  # the distinct present values counted (up to TRACK), in order of first appearance
    # (of a batch read as a dictionary: in its dictionary's order, which a Parquet file writes as first seen)
    tallies: pa.Array | None = None  # ... and how many cells hold each
    overflow: int = 0  # distinct values seen beyond TRACK (a lower bound on the rest)
    numbers: int = 0  # text columns: present cells that are numbers ...
    words: int = 0  # ... and present cells that are not (a column of numbers with a stray word is refused, named)
    first_word: str | None = None
    counted_late: bool = False  # counting began after earlier cells looked numeric: `distinct` is a lower bound

    @property
    def counts(self) -> dict[str, int]:
        """The distinct present values counted, with their cells."""
        return dict(zip(self.values.to_pylist(), self.tallies.to_pylist())) if self.values is not None else {}

    @property
    def distinct(self) -> int:
        return self.tracked + self.overflow

    @property
    def tracked(self) -> int:
        return len(self.values) if self.values is not None else 0

    @property
    def temporal(self) -> bool:
        """Dates and times: typed as such, or text that holds nothing else."""
        return pa.types.is_temporal(self.type) or (is_text(self.type) and self.datelike and self.missing < self.rows)

    def update(self, values: pa.Array, count_values: bool) -> None:
        """Fold one batch of the column into the profile."""
        self.rows += len(values)
        if pa.types.is_temporal(self.type) or not (is_text(self.type) or is_number(self.type) or pa.types.is_boolean(self.type)):
            self.missing += values.null_count
            self.numeric = self.integer = self.datelike = False
            return
        text = canonical_text(values) if not is_text(self.type) and (count_values or pa.types.is_boolean(self.type)) else None
        counted = None  # a text batch's distinct present values with their counts
        if is_text(self.type):  # worked as a dictionary: the rule per distinct value, the counts per index
            text = canonical_dictionary(values if pa.types.is_dictionary(values.type) else pc.dictionary_encode(values))
            self.missing += text.null_count
            counted = dictionary_counts(text)
            if len(text) > text.null_count:
                self._check_text(counted.field("values"), counted.field("counts").to_numpy(), len(values))
        elif pa.types.is_boolean(self.type):
            self.missing += values.null_count
            self.numeric = self.integer = self.datelike = False
        else:
            self.datelike = False
            self.integer = self.integer and pa.types.is_integer(self.type)
            if not pa.types.is_integer(self.type):  # integers hold no NaN nor infinity
                numbers = values.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)  # nulls become NaN
                finite = np.isfinite(numbers)
                if not finite.all():
                    nan = int(np.isnan(numbers).sum())
                    self.missing += nan
                    self.nonfinite += int((~finite).sum()) - nan
            else:
                self.missing += values.null_count
        if text is not None and (count_values or not self.numeric):
            self._count(counted if counted is not None else pc.value_counts(pc.drop_null(text)))

    def _check_text(self, distinct: pa.Array, counts: np.ndarray, batch_rows: int) -> None:
        """A text batch's checks (numbers or words, integers, infinities, dates), run on its distinct values and
        weighted by their counts: a categorical column's few values, not its every cell (three regular expressions
        over every cell were most of ingest's time on text columns)."""
        is_number = pc.match_substring_regex(distinct, NUMBER).to_numpy(zero_copy_only=False)
        present, numbers = int(counts.sum()), int(counts[is_number].sum())
        self.numbers += numbers
        if numbers < present:
            self.counted_late = self.counted_late or (self.numeric and self.rows > batch_rows)
            self.numeric = False
            self.words += present - numbers
            if self.first_word is None:
                self.first_word = distinct[int(np.argmin(is_number))].as_py()  # the batch's first word
        if self.integer:
            self.integer = self.numeric and bool(pc.all(pc.match_substring_regex(distinct, INTEGER)).as_py())
        if self.numeric:
            infinite = pc.match_substring_regex(distinct, r"^[+-]?[Ii]nf").to_numpy(zero_copy_only=False)
            self.nonfinite += int(counts[infinite].sum())
        if self.datelike:
            self.datelike = not self.numeric and bool(pc.all(pc.match_substring_regex(distinct, DATE)).as_py())

    def _count(self, counted: pa.StructArray) -> None:
        """Fold a batch's value counts (`pc.value_counts`) into the column's with Arrow's group-by (no Python loop
        over values), up to TRACK distinct values; values first seen beyond TRACK count into `overflow`."""
        values, tallies = counted.field("values"), counted.field("counts")
        if self.values is not None:
            both = pa.table({"value": pa.concat_arrays([self.values, values]),
                             "cells": pa.concat_arrays([self.tallies, tallies])})
            merged = both.group_by("value", use_threads=False).aggregate([("cells", "sum")])  # first appearance order
            values, tallies = merged.column("value").combine_chunks(), merged.column("cells_sum").combine_chunks()
        if len(values) > TRACK:
            self.overflow += len(values) - TRACK
            values, tallies = values.slice(0, TRACK), tallies.slice(0, TRACK)
        self.values, self.tallies = values, tallies


def dictionary_counts(text: pa.DictionaryArray) -> pa.StructArray:
    """`pc.value_counts` of a dictionary column's present cells (in its dictionary's order), from a count per
    index: no hash per cell."""
    found = np.bincount(text.indices.drop_null().to_numpy(zero_copy_only=False), minlength=len(text.dictionary))
    present = np.flatnonzero(found)
    return pa.StructArray.from_arrays([text.dictionary.take(pa.array(present)), pa.array(found[present])],
                                      names=["values", "counts"])

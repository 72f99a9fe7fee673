"""Which columns of the user's data become features, of which kind, which pass through, which are left out and why.

A column's kind is decided from one pass over the input (`ColumnProfile`, bounded memory) and the options:
numeric (numbers, with blank / whitespace-only / missing-token cells as missing values), categorical (text or
boolean with at most `max_categories` distinct values, or integer / text columns named with `--categorical`), or
left out with a reason (too many distinct text values, looks like a row id, date/time, empty on every row).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from eagergraph.data.cells import canonical_dictionary, canonical_text, is_number, is_text
from eagergraph.data.io import LABEL
from eagergraph.errors import DataError

FEATURES_KEY = b"eagergraph.features"  # raw.parquet metadata: the feature columns; the columns after the label pass through

NUMBER = r"^[+-]?((\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|[Ii]nf(inity)?)$"  # infinite values are numbers (refused later)
INTEGER = r"^[+-]?\d+$"
DATE = r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$"  # ISO dates and times written as text
TRACK = 100_000  # distinct values counted exactly per text column; beyond, a column is reported as "more than"

ID_REASON = "looks like an id"  # why a column that is integer and unique on every row was set aside
ID_COLUMN_REASON = "the row id (--id-column)"
DATE_REASON = "date/time"
EMPTY_REASON = "empty on every row"
RESERVED = (LABEL,)  # the name the run directory gives the label: never passed through (model outputs never clash:
# `prediction.output_names` prefixes them when a user column has one's name)


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
            counted = _value_counts(text)
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


def _value_counts(text: pa.DictionaryArray) -> pa.StructArray:
    """`pc.value_counts` of a dictionary column's present cells (in its dictionary's order), from a count per
    index: no hash per cell."""
    found = np.bincount(text.indices.drop_null().to_numpy(zero_copy_only=False), minlength=len(text.dictionary))
    present = np.flatnonzero(found)
    return pa.StructArray.from_arrays([text.dictionary.take(pa.array(present)), pa.array(found[present])],
                                      names=["values", "counts"])


# ---------------------------------------------------------------- the decision


@dataclass(frozen=True)
class Selection:
    """The columns of the user's data: the model's features (numeric and categorical, in the input's order), the
    other columns carried beside them (ids, dates, text) into the test predictions, and why each column that is
    not a feature was left out."""

    features: list[str]
    passthrough: list[str]
    left_out: dict[str, str]  # column → "the label", "excluded", "looks like an id", "text, 891 distinct values (...)"
    categorical: list[str] = field(default_factory=list)

    @property
    def numeric(self) -> list[str]:
        return [name for name in self.features if name not in self.categorical]


def _why_not(profile: ColumnProfile, max_categories: int, named_categorical: bool) -> str | None:
    """Why a column cannot be a feature at all, or None when it can."""
    if profile.temporal:
        return DATE_REASON
    if profile.rows and profile.missing == profile.rows:
        return EMPTY_REASON
    if profile.numeric and not named_categorical:
        return None
    if profile.numeric and not profile.integer:
        return "not integer numbers (--categorical takes integer or text columns)"
    if is_text(profile.type) or pa.types.is_boolean(profile.type) or profile.integer:
        if profile.distinct > max_categories:
            more = "more than " if profile.overflow or profile.counted_late else ""
            return f"text, {more}{profile.distinct} distinct values (more than {max_categories})"
        return None
    return f"not a number or text ({profile.type})"


STRAY_SHARE = 0.9  # a text column whose present cells are at least this share numbers is numbers with typos


def _refuse_stray_words(profile: ColumnProfile, where: Path) -> None:
    """A column of numbers with a few cells that are neither numbers nor missing tokens ("oops", "12,5") is a typo
    to fix, not a text column to leave out silently: refuse it, naming the column, the count and the first one."""
    if profile.words and profile.numbers >= STRAY_SHARE * (profile.numbers + profile.words):
        cells = f"{profile.words} cell{'s' if profile.words != 1 else ''}"
        raise DataError(f"{where}: column {profile.name!r} holds numbers, but {cells} {'is' if profile.words == 1 else 'are'} "
                        f"not a number (first: {profile.first_word!r}); fix {'it' if profile.words == 1 else 'them'}, "
                        f"write NA to mark a cell missing, or leave the column out with --exclude {profile.name}")


def choose_columns(profiles: dict[str, ColumnProfile], label: str, features: list[str] | None,
                   exclude: list[str] | None, categorical: list[str] | None, max_categories: int,
                   where: Path, find_ids: Callable[[list[str]], list[str]] = lambda names: [],
                   id_column: str | None = None) -> Selection:
    """The feature columns and their kinds: `features` as named, else every column that can be a feature but the
    label, the excluded ones and those that look like a row id (unless all of them do); every other column is
    passed through and its reason recorded. `find_ids` names the given integer columns that hold a different value
    on every row (it reads them: only called when the features are chosen here)."""
    names = list(profiles)
    exclude, named = list(exclude or []), list(categorical or [])
    check_columns(names, label, features, where)
    for option, given in (("--exclude", exclude), ("--categorical", named)):
        unknown = [name for name in given if name not in names]
        if unknown:
            raise DataError(f"{where}: {option} names unknown column(s): {', '.join(unknown)}; columns are: {', '.join(names)}")
    if id_column is not None and id_column not in names:
        raise DataError(f"{where}: --id-column {id_column!r} not found; columns are: {', '.join(names)}")
    if id_column is not None and (id_column == label or id_column in (features or []) or id_column in named):
        raise DataError(f"{where}: --id-column {id_column!r} is also the label or a feature; a row id cannot be either")
    both = [name for name in exclude if name in (features or [])]
    if both:
        raise DataError(f"{where}: column(s) both in --features and --exclude: {', '.join(both)}")
    if label in named:
        raise DataError(f"{where}: the label column {label!r} cannot also be a categorical feature")
    for name in named:
        why = _why_not(profiles[name], max_categories, True)
        if why is not None and why.startswith("text, "):
            raise DataError(f"{where}: --categorical column {name!r} has {profiles[name].distinct} distinct values, more "
                            f"than --max-categories {max_categories}; raise --max-categories or leave it out")
        if why is not None:
            raise DataError(f"{where}: --categorical column {name!r} cannot be categorical: {why}")
    for name in names:
        if name != label and name not in exclude and name not in named and (features is None or name in features):
            _refuse_stray_words(profiles[name], where)
    reasons = {label: "the label", **{name: "excluded" for name in exclude},
               **({id_column: ID_COLUMN_REASON} if id_column is not None else {})}
    why = {name: _why_not(profiles[name], max_categories, name in named) for name in names}
    if features is not None:
        bad = [f"{name} ({why[name]})" for name in features if why[name] is not None]
        if bad:
            raise DataError(f"{where}: feature column(s) cannot be features: {', '.join(bad)}")
        reasons.update({n: "not in --features" for n in names if n not in features and n not in reasons})
        chosen = list(features)
    else:
        reasons.update({n: why[n] for n in names if n not in reasons and why[n] is not None})
        kept = [n for n in names if n not in reasons]
        ids = find_ids([n for n in kept if n not in named and profiles[n].integer and profiles[n].missing == 0])
        ids += [n for n in kept if n not in named and n not in ids and _unique_text(profiles[n])]
        if len(ids) < len(kept):  # when every candidate looks like an id (tiny or toy tables), they are the features
            reasons.update({n: ID_REASON for n in ids})
        chosen = [n for n in names if n not in reasons]
        if not chosen:
            shown = ", ".join(f"{n} ({r})" for n, r in reasons.items() if n != label)
            raise DataError(f"{where}: no feature columns left besides the label {label!r}: {shown}; name them with --features")
    chosen = [n for n in names if n in chosen]  # the input's order
    kinds = [n for n in chosen if n in named or not profiles[n].numeric]
    left_out = {n: reasons[n] for n in names if n in reasons}
    passthrough = [n for n in names if n in left_out and n != label and n not in RESERVED]
    return Selection(chosen, passthrough, left_out, kinds)


def split_key(selection: Selection) -> list[str] | None:
    """The columns that key a row's split: the --id-column, else the columns that look like a row id, else None
    (the row's content keys it)."""
    ids = [n for n, why in selection.left_out.items() if why == ID_COLUMN_REASON and n in selection.passthrough]
    ids = ids or [n for n, why in selection.left_out.items() if why == ID_REASON and n in selection.passthrough]
    return ids or None


def _unique_text(profile: ColumnProfile) -> bool:
    """A text column with a different value on every row (names, codes): an id, however few rows."""
    return (is_text(profile.type) and not profile.numeric and profile.rows > 2 and profile.missing == 0
            and not profile.overflow and profile.tracked == profile.rows)


def check_columns(columns: list[str], label: str, features: list[str] | None, where: Path) -> None:
    """The label and the named feature columns exist, once each (the one check; preflight runs it on the header)."""
    duplicated = sorted({name for name in columns if columns.count(name) > 1})
    if duplicated:
        raise DataError(f"{where}: duplicate column names: {', '.join(duplicated)}")
    if label not in columns:
        raise DataError(f"{where}: label column {label!r} not found; columns are: {', '.join(columns)}")
    if features is not None:
        missing = [name for name in features if name not in columns]
        if missing:
            raise DataError(f"{where}: feature column(s) not found: {', '.join(missing)}")
        if label in features:
            raise DataError(f"{where}: the label column {label!r} cannot also be a feature")


def describe_kinds(selection: Selection, vocabulary_sizes: dict[str, int] | None = None) -> str:
    """The terminal/log line: features used (categoricals with their vocabulary sizes), columns left out with reasons."""
    sizes = vocabulary_sizes or {}
    used = [f"{n} (categorical, {sizes[n]} value{'s' if sizes[n] != 1 else ''})" if n in sizes else f"{n} (categorical)" if n in selection.categorical
            else n for n in selection.features]
    left = [f"{n}: {why}" for n, why in selection.left_out.items() if why != "the label"]
    return f"features: {', '.join(used)}" + (f"; left out: {'; '.join(left)}" if left else "")


def raw_features(schema: pa.Schema) -> list[str]:
    """The feature columns of raw.parquet (the columns after the label are passed through, not features)."""
    if schema.metadata and FEATURES_KEY in schema.metadata:
        return json.loads(schema.metadata[FEATURES_KEY])
    return [name for name in schema.names if name != LABEL]


def raw_schema(dataset_schema: pa.Schema, selection: Selection, label_type: pa.DataType = pa.int8(),
               passthrough_types: dict[str, pa.DataType] | None = None) -> pa.Schema:
    """raw.parquet's columns: numeric features as float64, categorical ones as text, the label, then the
    passthrough columns as they came."""
    types = passthrough_types or {}
    return pa.schema([*(pa.field(n, pa.string() if n in selection.categorical else pa.float64()) for n in selection.features),
                      pa.field(LABEL, label_type),
                      *(pa.field(n, types.get(n, dataset_schema.field(n).type)) for n in selection.passthrough)])

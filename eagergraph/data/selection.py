"""Which columns of the user's data become features, of which kind, which pass through, which are left out and why,
decided from each column's profile (`columns.ColumnProfile`) and the options; raw.parquet's columns in that order."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from eagergraph.data.cells import is_text
from eagergraph.data.columns import ColumnProfile
from eagergraph.data.io import LABEL
from eagergraph.errors import DataError

FEATURES_KEY = b"eagergraph.features"  # raw.parquet metadata: the feature columns; the columns after the label pass through
ID_REASON = "looks like an id"  # why a column that is integer and unique on every row was set aside
ID_COLUMN_REASON = "the row id (--id-column)"
DATE_REASON = "date/time"
EMPTY_REASON = "empty on every row"
RESERVED = (LABEL,)  # the name the run directory gives the label: never passed through (model outputs never clash:
# `core.outputs.output_names` prefixes them when a user column has one's name)


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

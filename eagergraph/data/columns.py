"""Which columns of the user's data become features, which pass through, which are left out and why."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from eagergraph.data.io import LABEL
from eagergraph.errors import DataError

FEATURES_KEY = b"eagergraph.features"  # raw.parquet metadata: the feature columns; the columns after the label pass through


ID_REASON = "looks like an id"  # why a column that is integer and unique on every row was set aside
RESERVED = (LABEL, "predicted", "probability")  # names the run directory gives its own columns: never passed through


def check_numeric(schema: pa.Schema, columns: list[str], where: Path) -> None:
    """Refuse feature columns that do not hold numbers, naming each with its type."""
    text = [name for name in columns if not _numeric(schema.field(name).type)]
    if text:
        raise DataError(f"{where}: feature column(s) are not numeric: {', '.join(f'{n} ({schema.field(n).type})' for n in text)}")


def select_columns(schema: pa.Schema, label: str, features: list[str] | None, where: Path) -> list[str]:
    """The feature columns to use, checked against the file's schema."""
    names = schema.names
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        raise DataError(f"{where}: duplicate column names: {', '.join(duplicated)}")
    if label not in names:
        raise DataError(f"{where}: label column {label!r} not found; columns are: {', '.join(names)}")
    if features is None:
        chosen = [name for name in names if name != label and _numeric(schema.field(name).type)]
    else:
        missing = [name for name in features if name not in names]
        if missing:
            raise DataError(f"{where}: feature column(s) not found: {', '.join(missing)}")
        if label in features:
            raise DataError(f"{where}: the label column {label!r} cannot also be a feature")
        chosen = list(features)
    check_numeric(schema, chosen, where)
    if not chosen:
        raise DataError(f"{where}: no numeric feature columns besides the label {label!r}")
    return chosen


@dataclass(frozen=True)
class Selection:
    """The columns of the user's data: the model's features, the other columns carried beside them (ids, dates,
    text) into the test predictions, and why each column that is not a feature was left out."""

    features: list[str]
    passthrough: list[str]
    left_out: dict[str, str]  # column → "the label", "excluded", "not numeric", "looks like an id", "not in --features"


def id_columns(dataset: ds.Dataset, names: list[str]) -> list[str]:
    """Integer columns that hold a different value on every row: row ids, which predict nothing."""
    candidates = [n for n in names if pa.types.is_integer(dataset.schema.field(n).type)]
    if not candidates:
        return []
    table = dataset.to_table(columns=candidates)
    return [n for n in candidates if table.num_rows > 1 and table.column(n).null_count == 0
            and pc.count_distinct(table.column(n)).as_py() == table.num_rows]


def choose_columns(dataset: ds.Dataset, label: str, features: list[str] | None, exclude: list[str] | None,
                   where: Path) -> Selection:
    """The feature columns: `features` as named, else every numeric column but the label, the excluded ones and
    the ones that look like a row id (unless all of them do); every other column is passed through and its reason
    recorded."""
    schema = dataset.schema
    exclude = list(exclude or [])
    unknown = [name for name in exclude if name not in schema.names]
    if unknown:
        raise DataError(f"{where}: --exclude names unknown column(s): {', '.join(unknown)}; columns are: {', '.join(schema.names)}")
    both = [name for name in exclude if name in (features or [])]
    if both:
        raise DataError(f"{where}: column(s) both in --features and --exclude: {', '.join(both)}")
    chosen = select_columns(schema, label, features, where)
    reasons = {label: "the label", **{name: "excluded" for name in exclude}}
    if features is not None:
        reasons.update({n: "not in --features" for n in schema.names if n not in chosen and n not in reasons})
    else:
        reasons.update({n: "not numeric" for n in schema.names if n not in chosen and n not in reasons})
        kept = [n for n in chosen if n not in reasons]
        ids = id_columns(dataset, kept)
        if len(ids) < len(kept):  # when every candidate looks like an id (tiny or toy tables), they are the features
            reasons.update({n: ID_REASON for n in ids})
        chosen = [n for n in chosen if n not in reasons]
        if not chosen:
            shown = ", ".join(f"{n} ({why})" for n, why in reasons.items() if n != label)
            raise DataError(f"{where}: no feature columns left besides the label {label!r}: {shown}; name them with --features")
    left_out = {n: reasons[n] for n in schema.names if n in reasons}
    passthrough = [n for n in schema.names if n in left_out and n != label and n not in RESERVED]
    return Selection(chosen, passthrough, left_out)


def raw_features(schema: pa.Schema) -> list[str]:
    """The feature columns of raw.parquet (the columns after the label are passed through, not features)."""
    if schema.metadata and FEATURES_KEY in schema.metadata:
        return json.loads(schema.metadata[FEATURES_KEY])
    return [name for name in schema.names if name != LABEL]


def raw_schema(dataset_schema: pa.Schema, selection: Selection, label_type: pa.DataType = pa.int8()) -> pa.Schema:
    """raw.parquet's columns: the features as float64, the label, then the passthrough columns as they came."""
    return pa.schema([*(pa.field(n, pa.float64()) for n in selection.features), pa.field(LABEL, label_type),
                      *(dataset_schema.field(n) for n in selection.passthrough)])


def _numeric(kind: pa.DataType) -> bool:
    return pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind) or pa.types.is_decimal(kind)

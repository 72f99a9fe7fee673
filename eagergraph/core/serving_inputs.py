"""Raw columns as the exported model takes them: what its inputs are, and a user's table turned into them.

No TensorFlow here: `predict` checks the user's input (and says what is wrong) before TensorFlow starts.
The rules follow the data contract: a numeric feature is float64 with NaN for a missing cell; a categorical
feature is canonical text (trimmed; integers as "3", booleans as "true"/"false") with "" for a missing cell.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, is_dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from eagergraph.data.cells import canonical_text
from eagergraph.data.normalize import Normalizer
from eagergraph.data.preprocessing import missing_trained
from eagergraph.errors import DataError
from eagergraph.metrics import DEFAULT_TASK, task_of

NUMERIC, CATEGORICAL = "numeric", "categorical"
MATRIX_INPUT = "features"  # the one float32 [None, n] input of models exported before raw-column signatures


# ---------------------------------------------------------------- the preprocessing a model is exported with


@dataclass(frozen=True)
class NumericColumn:
    name: str
    mean: float
    std: float
    impute: float | None  # None: no imputation (and no missing indicator); a missing cell cannot be predicted


@dataclass(frozen=True)
class CategoricalColumn:
    name: str
    vocabulary: list[str]  # canonical text, most frequent first; then the unseen slot, then the missing slot
    missing_trained: bool = True  # the train split had missing cells: a missing cell activates the missing slot


@dataclass(frozen=True)
class Preprocessing:
    """normalizer.json as the exported model needs it: the raw features, their kinds and fitted values."""

    features: list[str]
    numeric: list[NumericColumn]
    categorical: list[CategoricalColumn]
    classes: list
    task: str = DEFAULT_TASK
    target: dict | None = None  # regression: the train split's {"mean", "std"} of the label


def preprocessing_of(normalizer: Any) -> Preprocessing:
    """The preprocessing of a normalizer (a Normalizer, or normalizer.json's fields as a dict, in either schema:
    `Normalizer.of` reads the old one)."""
    fields = asdict(normalizer if is_dataclass(normalizer) else Normalizer.of(dict(normalizer)))
    numeric = [NumericColumn(c["name"], float(c["mean"]), float(c["std"]),
                             None if c.get("impute") is None else float(c["impute"])) for c in fields["numeric"]]
    categorical = [CategoricalColumn(c["name"], canonical_values(c["vocabulary"]), missing_trained(c))
                   for c in fields.get("categorical", [])]
    return Preprocessing(list(fields["features"]), numeric, categorical, list(fields["classes"]),
                         task_of(fields), fields.get("target"))


def read_preprocessing(path: Path) -> Preprocessing:
    """A run directory's normalizer.json, in either schema (see `preprocessing_of`)."""
    return preprocessing_of(json.loads(Path(path).read_text()))


# ---------------------------------------------------------------- what a SavedModel takes (its eagergraph.json)


@dataclass(frozen=True)
class ModelInputs:
    """The raw columns an exported model takes, from its assets.extra/eagergraph.json."""

    features: list[str]
    kinds: dict[str, str]  # column → "numeric" or "categorical"
    vocabularies: dict[str, list[str]]  # categorical column → vocabulary
    imputed: frozenset[str]  # numeric columns whose missing cells the model imputes
    names: dict[str, str]  # column → serving_default input name; empty for an old matrix-input model

    @classmethod
    def of(cls, info: Mapping) -> "ModelInputs":
        features = list(info["features"])
        return cls(features, dict(info.get("kinds") or {name: NUMERIC for name in features}),
                   {k: list(v) for k, v in (info.get("vocabularies") or {}).items()},
                   frozenset(info.get("imputed") or {}), dict(info.get("inputs") or {}))


def signature_names(columns: list[str]) -> dict[str, str]:
    """A valid, distinct signature input name per column: letters, digits and `_`, starting with a letter
    (TensorFlow would rename others itself, silently; here the mapping is written down)."""
    names: dict[str, str] = {}
    taken: set[str] = set()
    for column in columns:
        base = "".join(ch if ch.isascii() and (ch.isalnum() or ch == "_") else "_" for ch in column)
        base = base if base[:1].isascii() and base[:1].isalpha() else f"c_{base}"
        name, n = base, 2
        while name in taken:  # "a b" and "a_b" both become a_b: number the second
            name, n = f"{base}_{n}", n + 1
        taken.add(name)
        names[column] = name
    return names


# ---------------------------------------------------------------- a user's table → the model's inputs


class NotANumber(DataError):
    """Text where the model takes a number; names the column and the first such value."""

    def __init__(self, where: str, column: str, kind: pa.DataType, value: str) -> None:
        super().__init__(f"{where}: feature column(s) are not numeric: {column} ({kind}): {value!r} is not a number")
        self.column, self.value = column, value


def canonical_values(values: list) -> list[str]:
    """Values (a vocabulary from JSON: text, numbers, booleans) as canonical text, by the same rule as columns."""
    if not values:
        return []
    return [str(v) for v in canonical_text(pa.array(values)).to_pylist()]


def numeric_values(column: pa.Array | pa.ChunkedArray, name: str, where: str) -> np.ndarray:
    """A numeric feature as float64 with NaN for a missing cell; text columns (a CSV column with blank cells)
    are trimmed and their missing tokens are missing. Text that is not a number is bad input, named."""
    column = _chunked(column)
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type) or pa.types.is_null(column.type):
        text = canonical_text(column)
        try:
            column = text.cast(pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            bad = next(v for v in pc.unique(text).to_pylist() if v is not None and not _is_number(v))
            raise NotANumber(where, name, column.type, bad) from None
    try:
        column = column.cast(pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise DataError(f"{where}: feature column(s) are not numeric: {name} ({column.type})") from None
    filled = pc.fill_null(column, np.nan) if column.null_count else column  # a column without gaps: no copy
    return filled.to_numpy().astype(np.float64, copy=False)


def serving_columns(data: pa.Table | Mapping[str, Any], inputs: ModelInputs, where: str) -> dict[str, np.ndarray]:
    """The model's raw feature columns of a table (or a dict of columns): numeric float64 with NaN for missing,
    categorical canonical text (object arrays of str) with "" for missing. Other columns are ignored."""
    table = data if isinstance(data, pa.Table) else pa.table({name: _as_arrow(data[name]) for name in inputs.features
                                                              if name in data})
    absent = [name for name in inputs.features if name not in table.column_names]
    if absent:
        raise DataError(f"{where}: missing the model's feature column(s): {', '.join(absent)}")
    columns: dict[str, np.ndarray] = {}
    for name in inputs.features:
        if inputs.kinds[name] == CATEGORICAL:
            text = _as_trained(_chunked(canonical_text(table.column(name))), inputs.vocabularies[name])
            columns[name] = pc.fill_null(text, "").to_numpy().astype(object, copy=False)
        else:
            columns[name] = numeric_values(table.column(name), name, where)
    return columns


def unseen_counts(columns: Mapping[str, np.ndarray], inputs: ModelInputs) -> dict[str, int]:
    """Per categorical column, the cells (not missing) whose value is not in the vocabulary: the unseen slot."""
    counts = {}
    for name in (name for name in inputs.features if inputs.kinds[name] == CATEGORICAL):  # in the model's order
        values = columns[name]
        count = int(np.sum((values != "") & ~np.isin(values, np.asarray(inputs.vocabularies[name], dtype=object))))
        if count:
            counts[name] = count
    return counts


def unpredictable(columns: Mapping[str, np.ndarray], inputs: ModelInputs) -> dict[str, np.ndarray]:
    """Per numeric column, the rows the model cannot predict: a missing cell the model does not impute, or an
    infinite value (imputed columns included)."""
    bad = {}
    for name in inputs.features:
        if inputs.kinds[name] == NUMERIC:
            values = columns[name]
            with np.errstate(over="ignore", invalid="ignore"):  # a huge sum, or inf - inf: checked row by row below
                total = np.sum(values)
            if np.isfinite(total):  # one pass, no mask: a NaN or an infinity anywhere makes the sum one
                continue
            rows = np.isinf(values) if name in inputs.imputed else ~np.isfinite(values)
            if rows.any():
                bad[name] = rows
    return bad


def _as_trained(text: pa.ChunkedArray, vocabulary: list[str]) -> pa.ChunkedArray:
    """Text in the form the vocabulary was trained on, when a reader left it as written: a boolean column read as
    text ("True" → "true"), an integer column read as text ("03", "3.0" → "3", only when every vocabulary value
    is an integer in canonical form: a vocabulary of codes like "03" is matched as written)."""
    if vocabulary and set(vocabulary) <= {"true", "false"}:
        lower = pc.utf8_lower(text)
        return pc.if_else(pc.is_in(lower, value_set=pa.array(["true", "false"], text.type)), lower, text)
    if integer_vocabulary(vocabulary):
        integral = pc.fill_null(pc.match_substring_regex(text, f"^{INTEGRAL_TEXT}$"), False)
        as_int = pc.cast(pc.cast(pc.if_else(integral, text, pa.scalar("0", text.type)), pa.float64()), pa.int64())
        return pc.if_else(integral, pc.cast(as_int, text.type), text)
    return text


_INTEGER = re.compile(r"-?\d+")
INTEGRAL_TEXT = r"[+-]?\d+(\.0*)?"  # text that is an integer: read as that integer for a vocabulary of integers


def integer_vocabulary(vocabulary: list[str]) -> bool:
    """Whether every vocabulary value is an integer in canonical form (then integral text is read as its integer;
    a vocabulary of codes like "03" is matched as written)."""
    return bool(vocabulary) and all(_INTEGER.fullmatch(value) and str(int(value)) == value for value in vocabulary)


def _chunked(column: pa.Array | pa.ChunkedArray) -> pa.ChunkedArray:
    return column if isinstance(column, pa.ChunkedArray) else pa.chunked_array([column])


def _as_arrow(values: Any) -> pa.Array | pa.ChunkedArray:
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        return values
    values = np.asarray(values)
    return pa.array(values.tolist() if values.dtype == object else values, from_pandas=values.dtype != object)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True

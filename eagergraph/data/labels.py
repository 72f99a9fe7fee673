"""The binary label: missing cells, which value is the positive class, and its 0/1 encoding."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from eagergraph.data.io import LABEL
from eagergraph.errors import DataError


def label_missing(target: pa.Array) -> np.ndarray:
    """Rows whose label is missing: null, NaN, infinite, or an empty (or blank) text cell."""
    bad = target.is_null().to_numpy(zero_copy_only=False)
    if pa.types.is_floating(target.type):
        bad |= ~np.isfinite(target.to_numpy(zero_copy_only=False))
    elif pa.types.is_string(target.type) or pa.types.is_large_string(target.type):
        blank = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(target), ""), False)
        bad |= blank.to_numpy(zero_copy_only=False)
    return bad


def order_classes(classes: list, positive_class: str | None, label: str, where: Path | str) -> list:
    """The two label values as [negative, positive]: the positive class the user named (matched by its text),
    else the larger value in sorted order."""
    ordered = sorted(classes)
    if positive_class is None:
        return ordered
    matches = [value for value in ordered if _same_value(value, positive_class)]
    if not matches:
        raise DataError(f"{where}: --positive-class {positive_class!r} is not a value of label column {label!r}; "
                        f"its values are: {', '.join(str(v) for v in ordered)}")
    positive = matches[0]
    return [next(value for value in ordered if value != positive), positive]


def _same_value(value: object, text: str) -> bool:
    if str(value) == text or (isinstance(value, bool) and str(value).lower() == text.strip().lower()):
        return True
    return isinstance(value, (int, float)) and not isinstance(value, bool) and as_number(text) == value


def as_number(text: str) -> float | None:
    """The text as a float, or None when it is not a number."""
    try:
        return float(text)
    except ValueError:
        return None


def encode_label(batch: pa.RecordBatch, classes: list) -> pa.RecordBatch:
    """Map the label's two values to 0 and 1: `classes` is [negative, positive] (see `order_classes`)."""
    positive = pa.scalar(classes[1], type=batch.schema.field(LABEL).type)
    encoded = pc.cast(pc.equal(batch.column(LABEL), positive), pa.int8())
    return batch.set_column(batch.schema.get_field_index(LABEL), LABEL, encoded)

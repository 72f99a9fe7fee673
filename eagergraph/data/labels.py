"""The label: missing cells, its values, the classes (which value is the positive class) and its encoding for each
task (which task a label calls for is `data/task.py`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from eagergraph.data.cells import canonical_text
from eagergraph.data.io import LABEL
from eagergraph.errors import DataError
from eagergraph.metrics import positive_class


def label_cells(target: pa.Array) -> pa.Array:
    """The label's cells by the one text-cell rule (`canonical_text`): a text label trimmed, its missing tokens
    missing, its boolean words one value ("yes " is "yes", "NA" is no class); other types as they are. A cell the
    rule makes missing becomes "" (a blank label, which `label_missing` counts), so the column keeps its nulls as
    the file had them."""
    if pa.types.is_string(target.type) or pa.types.is_large_string(target.type):
        cleaned = pc.fill_null(canonical_text(target), "")
        return pc.if_else(pc.is_null(target), pa.scalar(None, cleaned.type), cleaned)
    return target


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
    positive = pa.scalar(positive_class(classes), type=batch.schema.field(LABEL).type)
    encoded = pc.cast(pc.equal(batch.column(LABEL), positive), pa.int8())
    return batch.set_column(batch.schema.get_field_index(LABEL), LABEL, encoded)


# ---------------------------------------------------------------- the label's values


class LabelValues:
    """The label's distinct values, tracked up to a bound (`limit` + 1 of them): enough to tell two classes from
    many, never one Python object per row. `more` is set once a value beyond the bound was seen."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.values: set = set()
        self.more = False

    def update(self, values: list) -> None:
        if self.more:
            return
        self.values.update(values)
        if len(self.values) > self.limit + 1:
            self.values = set(sorted(self.values)[: self.limit + 1])
            self.more = True

    def __len__(self) -> int:
        return len(self.values)

    def __iter__(self):
        return iter(self.values)


def encode_task_label(batch: pa.RecordBatch, task: str, classes: list) -> pa.RecordBatch:
    """raw.parquet's label for each task: binary 0/1 int8 (`encode_label`), multiclass int16 codes 0..K-1 in
    `classes` order, regression float64."""
    if task == "binary":
        return encode_label(batch, classes)
    column = batch.column(LABEL)
    if task == "multiclass":
        codes = pc.index_in(column, value_set=pa.array(classes, type=column.type))
        encoded = pc.cast(codes, pa.int16())
    else:
        encoded = pc.cast(column, pa.float64())
    return batch.set_column(batch.schema.get_field_index(LABEL), LABEL, encoded)


def label_type(task: str) -> pa.DataType:
    """raw.parquet's label type for a task."""
    return {"binary": pa.int8(), "multiclass": pa.int16(), "regression": pa.float64()}[task]


def counting_classes(batches: Iterable[pa.RecordBatch], task: str, counts: np.ndarray) -> Iterator[pa.RecordBatch]:
    """Pass raw.parquet's batches through, adding each class's rows to `counts` (by label code; regression: every
    row to counts[0]), which is all the split needs to know before it is drawn (`check_planned_split`)."""
    for batch in batches:
        if task == "regression":
            counts[0] += batch.num_rows
        else:
            counts += np.bincount(batch.column(LABEL).to_numpy(), minlength=len(counts))
        yield batch

"""The task: which one a label calls for (`--task auto`), why, and the classes in the model's order, decided once
for ingest, the synthetic table and a folder of partitions."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from eagergraph.data.io import LABEL
from eagergraph.data.labels import LabelValues, order_classes
from eagergraph.errors import DataError
from eagergraph.metrics import DEFAULT_TASK, positive_class

SYNTHETIC_CLASSES = {"binary": [0, 1], "multiclass": [0, 1, 2], "regression": []}  # the synthetic table's labels


def shown_values(values: list, more: bool, at_most: int = 5) -> str:
    """Label values for a message, sorted; "..." only when values were left out."""
    ordered = sorted(values)
    listed = ", ".join(repr(v) for v in ordered[:at_most])
    return listed + (", ..." if more or len(ordered) > at_most else "")


def choose_task(requested: str, values: LabelValues, kind: pa.DataType, max_classes: int, label: str,
                where: Path | str) -> tuple[str, str]:
    """The task and why: `requested` unless auto; auto is binary for two values, multiclass for text, boolean or
    integer labels with 3..max_classes values, regression for a float label or an integer one with more values."""
    count = f"{len(values)}{'+' if values.more else ''}"
    numeric = pa.types.is_integer(kind) or pa.types.is_floating(kind)
    if requested == "regression":
        if not numeric:
            raise DataError(f"{where}: --task regression needs a numeric label; label column {label!r} holds text "
                            f"({shown_values(list(values), values.more)})")
        return "regression", "chosen with --task"
    if requested == "binary" and (len(values) > 2 or values.more):
        raise DataError(f"{where}: --task binary needs two label values; label column {label!r} has {count} "
                        f"({shown_values(list(values), values.more)}); choose --task multiclass or regression")
    if requested in ("binary", "multiclass"):
        if requested == "multiclass" and (values.more or len(values) > max_classes):
            raise DataError(f"{where}: label column {label!r} has more than {max_classes} classes; raise --max-classes")
        return requested, "chosen with --task"
    if len(values) <= 2 and not values.more:
        return "binary", f"label {label!r} has two values: {shown_values(list(values), False)}"
    if pa.types.is_floating(kind):
        return "regression", f"label {label!r} holds numbers with fractions"
    if values.more or len(values) > max_classes:
        if pa.types.is_integer(kind):
            return "regression", f"label {label!r} is an integer column with more than --max-classes {max_classes} values"
        raise DataError(f"{where}: label column {label!r} has more than {max_classes} distinct values "
                        f"({shown_values(list(values), True)}); raise --max-classes, or use a numeric label for regression")
    classes = ", ".join(str(v) for v in sorted(values))
    return "multiclass", f"label {label!r} has {len(values)} classes: {classes}"


def task_line(task: str, reason: str) -> str:
    """What ingest says about the task: what it chose, why, and how to choose otherwise."""
    if reason == "chosen with --task":
        return f"task: {task} (chosen with --task)"
    return f"task: {task} ({reason}); choose with --task"


def task_classes(task: str, values: LabelValues | list, positive: str | None, label: str, where: Path | str) -> list:
    """The classes in the model's order: binary [negative, positive], multiclass sorted, regression none.
    `--positive-class` (`positive`) belongs to binary labels only."""
    if positive is not None and task != "binary":
        raise DataError(f"{where}: --positive-class is for binary labels; label column {label!r} is a {task} task")
    if task == "binary":
        return order_classes(sorted(values), positive, label, where)
    return sorted(values) if task == "multiclass" else []


def resolve_task(requested: str, values: LabelValues, kind: pa.DataType, max_classes: int, label: str,
                 positive: str | None, where: Path | str) -> tuple[str, str, list]:
    """The task, why it was chosen (`choose_task`), and the classes in the model's order (`task_classes`)."""
    task, reason = choose_task(requested, values, kind, max_classes, label, where)
    return task, reason, task_classes(task, values, positive, label, where)


def synthetic_task(requested: str, positive: str | None) -> tuple[str, str, list]:
    """The synthetic table's task (the default unless --task), why, and its classes in the model's order."""
    task = DEFAULT_TASK if requested == "auto" else requested
    reason = "synthetic data's default" if requested == "auto" else "chosen with --task"
    return task, reason, task_classes(task, list(SYNTHETIC_CLASSES[task]), positive, LABEL, "synthetic data")


def positive_of(task: str, classes: list) -> object:
    """The positive class a binary run records (precision, recall and the probability are about it); None otherwise."""
    return positive_class(classes) if task == "binary" else None

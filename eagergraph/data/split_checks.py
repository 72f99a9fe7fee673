"""Whether a split can be trained and evaluated: every class (regression: a row) in each of train, validation and
test, checked as drawn (`check_split`) and, before TensorFlow loads, as far as the class counts tell
(`check_planned_split`); one rule and its one-line refusals (`refuse_split`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from eagergraph.data.split import SPLITS
from eagergraph.errors import DataError
from eagergraph.metrics import DEFAULT_TASK

HINT = "add rows or change --test-fraction or --validation-fraction"  # what a user can do about a tiny split


def split_counts(labels: np.ndarray, codes: np.ndarray, task: str, classes: list | None = None) -> np.ndarray:
    """Rows per split (rows: train, validation, test) and class (columns, code order; regression: one column)."""
    if task == "regression":
        return np.bincount(codes, minlength=len(SPLITS)).reshape(-1, 1)
    size = len(classes) if classes else int(labels.max(initial=1)) + 1
    return np.stack([np.bincount(labels[codes == code], minlength=size) for code in range(len(SPLITS))])


def check_split(labels: np.ndarray, codes: np.ndarray, where: Path | str, task: str = DEFAULT_TASK,
                classes: list | None = None) -> None:
    """Each split must hold every class (regression: a row), or neither training, early stopping nor evaluation
    means anything: checked on the split as drawn (`codes`: 0 train, 1 validation, 2 test)."""
    refuse_split(split_counts(labels, codes, task, classes), where, task, classes)


def check_planned_split(counts: list[int], where: Path | str, task: str, classes: list | None = None) -> None:
    """Before the split is drawn, from the rows per class alone (regression: [rows]): a class (or a table) needs at
    least one row per split. Necessary, not sufficient (the hash decides the rest, and normalize checks it exactly),
    but it refuses the tiniest tables before TensorFlow loads."""
    counts = np.asarray(counts, dtype=np.int64)
    if task == "regression":
        if counts.sum() < len(SPLITS):
            raise DataError(f"{where}: too few rows for the split ({int(counts.sum())} rows in all), fewer than one for "
                            f"each of the train, validation and test splits; {HINT}")
        return
    short = [code for code, count in enumerate(counts) if count < len(SPLITS)]
    if short:
        code = min(short, key=lambda c: (counts[c], c))  # the smallest class, as the drawn split's check names it
        _refuse_class(code, int(counts[code]), where, task, classes, counts)


def _refuse_class(code: int, count: int, where: Path | str, task: str, classes: list | None, counts: np.ndarray) -> None:
    value = classes[code] if classes else code  # the user's value (binary: [negative, positive])
    raise DataError(f"{where}: class {value!r} of the label has {count} row{'s' if count != 1 else ''}, too few for each "
                    f"of the train, validation and test splits ({int(counts.sum())} rows in all); "
                    + ("add rows of it, drop them, or change --test-fraction or --validation-fraction"
                       if task == "multiclass" else HINT))


def refuse_split(counts: np.ndarray, where: Path | str, task: str, classes: list | None = None) -> None:
    """The one rule and its messages: `counts` rows per split (train, validation, test) and class (code order;
    regression: one column) must all be non-zero."""
    total = int(counts.sum())
    if task == "regression":
        if counts.min() == 0:
            raise DataError(f"{where}: too few rows for the split ({total} rows in all): the train, validation and test "
                            f"splits have {', '.join(str(int(n)) for n in counts[:, 0])} rows; {HINT}")
        return
    if task == "multiclass":
        totals = counts.sum(axis=0)
        short = [code for code in range(counts.shape[1]) if counts[:, code].min() == 0]
        if short:
            code = min(short, key=lambda c: (totals[c], c))  # the smallest class missing from a split
            _refuse_class(code, int(totals[code]), where, task, classes, counts)
        return
    for name, row in zip(SPLITS, counts):
        if row.min() == 0:
            raise DataError(
                f"{where}: too few rows for the split: the {name} split has {row[0]} rows of class 0 and "
                f"{row[1]} of class 1 ({total} rows in all); {HINT}")

"""The model's output columns beside the input's own: their names (never clashing with a user's column), the
predicted class as the user's label values, class probabilities, a regression's value in the target's units."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from eagergraph.metrics import DEFAULT_TASK

PREDICTED = "probability"  # the positive class's probability
PREDICTED_CLASS = "predicted"


def class_values(codes: np.ndarray, classes: list, valid: np.ndarray | None = None) -> pa.Array:
    """0/1 codes as the user's label values (`classes` is [negative, positive]); rows not valid become null."""
    codes = np.asarray(codes).reshape(-1).astype(np.int8)
    return pa.array(classes).take(pa.array(codes, mask=None if valid is None else ~np.asarray(valid, dtype=bool)))


def label_values(codes: np.ndarray, task: str, classes: list) -> pa.Array:
    """raw.parquet's label in the user's values: class codes as the classes, a regression target as it is."""
    if task == "regression":
        return pa.array(np.asarray(codes, dtype=np.float64))
    if task == "multiclass":
        return pa.array(classes).take(pa.array(np.asarray(codes).astype(np.int64)))
    return class_values(codes, classes)


OUTPUT_PREFIX = "model_"  # put before the model's output columns when an input column already has one's name


def output_names(columns: list[str], classes: list, task: str = DEFAULT_TASK) -> dict[str, str]:
    """The names of the model's output columns beside these input columns: `predicted`, `probability` (binary and
    multiclass) and `probability_<class>` (multiclass). Every input column is kept as it is: when one of them
    already has an output's name (a user's own `probability` column), every output name takes OUTPUT_PREFIX
    (`model_predicted`, `model_probability`, ...), repeated until none clashes."""
    plain = [PREDICTED_CLASS] if task == "regression" else [PREDICTED_CLASS, PREDICTED]
    if task == "multiclass":
        plain += [class_probability_column(c) for c in classes]
    prefix, taken = "", set(columns)
    while any(prefix + name in taken for name in plain):
        prefix += OUTPUT_PREFIX
    return {name: prefix + name for name in plain}


def prediction_table(table: pa.Table, probability: np.ndarray, classes: list) -> pa.Table:
    """The input columns plus the predicted class (the user's label values) and the positive class's probability
    (named by `output_names`); a row with a NaN probability (not predicted) gets an empty prediction."""
    p = np.asarray(probability, dtype=np.float64).reshape(-1)
    valid = np.isfinite(p)
    names = output_names(table.column_names, classes)
    return (table.append_column(names[PREDICTED_CLASS], class_values(p > 0.5, classes, valid))
            .append_column(names[PREDICTED], pa.array(p, mask=~valid)))


def class_probability_column(value: Any) -> str:
    """predictions' column of one class's probability (multiclass): `probability_<class>`."""
    return f"{PREDICTED}_{value}"


def multiclass_table(table: pa.Table, probabilities: np.ndarray, classes: list) -> pa.Table:
    """The input columns plus the predicted class (the label's own values), its probability, and the probability
    of every class (`probability_<class>`), named by `output_names`; a row not predicted (NaN) gets empty cells."""
    p = np.asarray(probabilities, dtype=np.float64).reshape(len(table), len(classes))
    valid = np.isfinite(p).all(axis=1)
    best = np.where(valid, np.nan_to_num(p).argmax(axis=1), 0)
    names = output_names(table.column_names, classes, "multiclass")
    table = table.append_column(names[PREDICTED_CLASS], pa.array(classes).take(pa.array(best, mask=~valid)))
    table = table.append_column(names[PREDICTED], pa.array(p[np.arange(len(p)), best], mask=~valid))
    for j, value in enumerate(classes):
        table = table.append_column(names[class_probability_column(value)], pa.array(p[:, j], mask=~valid))
    return table


def regression_table(table: pa.Table, values: np.ndarray) -> pa.Table:
    """The input columns plus `predicted` (named by `output_names`), the value in the target's units (empty for a
    row not predicted)."""
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    name = output_names(table.column_names, [], "regression")[PREDICTED_CLASS]
    return table.append_column(name, pa.array(v, mask=~np.isfinite(v)))


def task_table(table: pa.Table, output: np.ndarray, task: str, classes: list) -> pa.Table:
    """predictions of a task: binary (`prediction_table`), multiclass, regression."""
    if task == "multiclass":
        return multiclass_table(table, output, classes)
    if task == "regression":
        return regression_table(table, output)
    return prediction_table(table, output, classes)

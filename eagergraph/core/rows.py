"""`predict --row` and `--row-json`: one row typed on the command line, as the model's inputs (by the same rules as a
file's columns), or one line of bad input naming the field."""

from __future__ import annotations

import csv
import json
from typing import Any

import numpy as np
import pyarrow as pa

from eagergraph.core.serving_inputs import ModelInputs, NotANumber, serving_columns, unpredictable
from eagergraph.data.cells import canonical_cell
from eagergraph.errors import DataError


def parse_row(text: str, features: list[str]) -> dict[str, str]:
    """`--row`: one CSV line (Python's csv module: quoted fields may hold commas and quotes) as the cells of the
    model's raw features, in the model's order; the cells are converted as a file's are (`row_columns`)."""
    fields = next(csv.reader([text], skipinitialspace=True), [])
    if len(fields) != len(features):
        raise DataError(f"--row: {len(fields)} values given, {_order(features)}")
    return dict(zip(features, fields))


def parse_row_json(text: str, features: list[str]) -> dict[str, Any]:
    """`--row-json`: a JSON object of the model's raw features by name; a missing key is a missing cell."""
    try:
        row = json.loads(text)
    except ValueError as exc:
        raise DataError(f"--row-json: not valid JSON ({str(exc).splitlines()[0]})") from None
    if not isinstance(row, dict):
        raise DataError(f"--row-json: give a JSON object of feature values by name, like {{{json.dumps(features[0])}: ...}}")
    unknown = [key for key in row if key not in features]
    if unknown:
        raise DataError(f"--row-json: unknown feature(s) {', '.join(map(repr, unknown))}; {_order(features)}")
    nested = [key for key, value in row.items() if isinstance(value, (dict, list))]
    if nested:
        raise DataError(f"--row-json: {nested[0]!r} holds a {type(row[nested[0]]).__name__}; give one value per feature")
    return {name: row.get(name) for name in features}


def _order(features: list[str]) -> str:
    return f"the model takes {len(features)} features in this order: {', '.join(features)}"


def row_columns(cells: dict[str, Any], inputs: ModelInputs, option: str) -> dict[str, np.ndarray]:
    """One row's cells (text, numbers, booleans or None) as the model's inputs, by the same rules as a file's
    columns; a row the model cannot predict (a gap it does not impute, an infinite value) is bad input."""
    def field(name: str) -> str:  # how the error names a cell: its position in a CSV row, its key in JSON
        return f"field {inputs.features.index(name) + 1} ({name})" if option == "--row" else repr(name)

    table = pa.table({name: pa.array([cells[name]]) for name in inputs.features})
    try:
        columns = serving_columns(table, inputs, option)
    except NotANumber as error:
        raise DataError(f"{option}: {error.value!r} is not a number: {field(error.column)}") from None
    for name in unpredictable(columns, inputs):
        given = cells[name]
        if canonical_cell(given) is None:  # missing by the one text-cell rule (blank or a missing token)
            what = "is empty" if given is None or not str(given).strip() else f"is missing ({given!r} reads as a missing value)"
            raise DataError(f"{option}: {field(name)} {what}; {_order(inputs.features)}; the model does not impute {name}")
        raise DataError(f"{option}: NaN or infinite values cannot be predicted: {field(name)} is {given!r}"
                        + ("" if name in inputs.imputed else " (the model does not impute it)"))
    return columns

"""Stage 7, predict: the graph model (eager in eager-only runs) reloaded from its SavedModel, on a new row and the test split."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from eagergraph.core.runtime import start_tensorflow
from eagergraph.data.io import LABEL, feature_matrix
from eagergraph.data.labels import as_number
from eagergraph.data.normalize import Normalizer
from eagergraph.errors import DataError
from eagergraph.io import write_json
from eagergraph.rundir.paths import MODEL_INFO, RunPaths, model_info_file, resolve_model

PREDICTED = "probability"  # the positive class's probability
PREDICTED_CLASS = "predicted"


def class_values(codes: np.ndarray, classes: list, valid: np.ndarray | None = None) -> pa.Array:
    """0/1 codes as the user's label values (`classes` is [negative, positive]); rows not valid become null."""
    codes = np.asarray(codes).reshape(-1).astype(np.int8)
    return pa.array(classes).take(pa.array(codes, mask=None if valid is None else ~np.asarray(valid, dtype=bool)))


def prediction_table(table: pa.Table, probability: np.ndarray, classes: list) -> pa.Table:
    """The input columns plus the predicted class (the user's label values) and the positive class's probability;
    a row with a NaN probability (not predicted) gets an empty prediction."""
    p = np.asarray(probability, dtype=np.float64).reshape(-1)
    valid = np.isfinite(p)
    table = table.drop_columns([name for name in (PREDICTED_CLASS, PREDICTED) if name in table.column_names])
    return (table.append_column(PREDICTED_CLASS, class_values(p > 0.5, classes, valid))
            .append_column(PREDICTED, pa.array(p, mask=~valid)))


def parse_row(text: str, features: list[str]) -> np.ndarray:
    """'v1,v2,...' as one row of floats; an error names the field (position and feature) and the expected order."""
    fields = [part.strip() for part in text.split(",")]
    expected = f"the model takes {len(features)} features in this order: {', '.join(features)}"
    if len(fields) != len(features):
        raise DataError(f"--row: {len(fields)} values given, {expected}")
    values = []
    for position, (part, name) in enumerate(zip(fields, features), start=1):
        if not part:
            raise DataError(f"--row: field {position} ({name}) is empty; {expected}")
        value = as_number(part)
        if value is None:
            raise DataError(f"--row: {part!r} is not a number: field {position} ({name}); {expected}")
        if not np.isfinite(value):
            raise DataError(f"--row: NaN or infinite values cannot be predicted: field {position} ({name}) is {part!r}")
        values.append(value)
    return np.asarray([values], dtype=np.float64)


def example_prediction(predictions: pa.Table, normalizer: Normalizer, passthrough: list[str]) -> dict:
    """The first test row as the run's example: its features, its other columns, its true label and the prediction."""
    first = predictions.slice(0, 1).to_pylist()[0]
    return {"row": "first test row", "columns": {name: str(first[name]) for name in passthrough},
            "features": {name: first[name] for name in normalizer.features}, "label": first[LABEL],
            "predicted": first[PREDICTED_CLASS], "probability": first[PREDICTED], "positive_class": normalizer.classes[1]}


def predict_run(run_dir: Path) -> dict:
    """Stage logic: reload models/graph from disk and predict the test split; predictions.parquet holds the test
    rows' passthrough columns (ids, dates, text), their features, the true label and the prediction, both in the
    user's label values, and the positive class's probability."""
    from eagergraph.core.export import load_serving

    paths = RunPaths.of(run_dir)
    normalizer = Normalizer.load(paths.normalizer)
    serve = load_serving(paths.served_model)  # one-mode runs too
    table = pq.read_table(paths.test_raw)
    passthrough = [name for name in table.column_names if name not in (*normalizer.features, LABEL)]
    labels = class_values(table.column(LABEL).to_numpy(), normalizer.classes)
    table = table.select([*passthrough, *normalizer.features]).append_column(LABEL, labels)
    predictions = prediction_table(table, serve(feature_matrix(table, normalizer.features)), normalizer.classes)
    pq.write_table(predictions, paths.predictions)
    example = example_prediction(predictions, normalizer, passthrough)
    write_json(paths.prediction_row, example)
    return {"predictions": paths.rel(paths.predictions), "rows": table.num_rows, "columns": passthrough, "example": example}


# ---------------------------------------------------------------- prediction from the command line


def model_info(model: Path) -> dict:
    from eagergraph.io import read_json

    info = model_info_file(model)
    if not info.is_file():
        raise DataError(f"{model}: no assets.extra/{MODEL_INFO}; was this SavedModel exported by eagergraph?")
    try:
        return read_json(info)
    except ValueError:
        raise DataError(f"{info}: not valid JSON; was this SavedModel exported by eagergraph?") from None


def load_model(model: Path) -> Callable[[np.ndarray], np.ndarray]:
    """The SavedModel's serving function; a directory TensorFlow cannot load is bad input, not a crash."""
    start_tensorflow()  # TensorFlow starts here: argument and path errors come first
    from eagergraph.core.export import load_serving

    try:
        return load_serving(model)
    except Exception as exc:  # TensorFlow raises many types here (parse errors, missing files, missing signature)
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise DataError(f"{model}: not a loadable SavedModel ({type(exc).__name__}: {reason[:150]})") from None


def output_path(source: Path, output: Path | None) -> Path:
    """Where predictions go: --output (.parquet, .pq or .csv, in an existing folder), else beside the input."""
    output = Path(output) if output else Path(source).with_name(Path(source).stem + ".predictions.parquet")
    if output.suffix.lower() not in (".parquet", ".pq", ".csv"):
        raise DataError(f"{output}: unsupported output type {output.suffix or '(none)'!r}; use .parquet or .csv")
    if not output.parent.is_dir():
        raise DataError(f"{output}: the folder {output.parent} does not exist")
    if output.is_dir():
        raise DataError(f"{output}: is a folder; give a file name")
    if output.exists() and output.resolve() == Path(source).resolve():
        raise DataError(f"{output}: is the input file; give another --output")
    return output


def predict_row(model_path: Path, text: str) -> dict:
    """Probability of the positive class and the predicted class (the user's label value) for one raw row."""
    model = resolve_model(model_path)
    info = model_info(model)
    row = parse_row(text, info["features"])
    probability = float(load_model(model)(row)[0, 0])
    return {"probability": probability, "predicted": info["classes"][int(probability > 0.5)],
            "positive_class": info.get("positive_class", info["classes"][1])}


def predict_file(model_path: Path, source: Path, output: Path | None, drop_invalid: bool = False) -> dict:
    """Predict every row of a CSV or Parquet file that holds the model's feature columns; the file's other columns
    are kept. Rows with missing, NaN or infinite features get an empty prediction, or are skipped with
    `drop_invalid`; either way they are counted."""
    import pyarrow.csv as pacsv

    from eagergraph.data.columns import check_numeric
    from eagergraph.data.ingest import arrow_reason, open_dataset

    model = resolve_model(model_path)
    info = model_info(model)
    dataset = open_dataset(Path(source))
    output = output_path(source, output)
    missing = [name for name in info["features"] if name not in dataset.schema.names]
    if missing:
        raise DataError(f"{source}: missing the model's feature column(s): {', '.join(missing)}")
    check_numeric(dataset.schema, info["features"], source)
    try:
        table = dataset.to_table()
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"{source}: cannot read: {arrow_reason(exc, dataset.schema)}") from None
    x = feature_matrix(table, info["features"])
    bad = ~np.isfinite(x)
    invalid = {n: int(c) for n, c in zip(info["features"], bad.sum(axis=0)) if c}
    gaps = bad.any(axis=1)
    if drop_invalid and gaps.any():
        table, x = table.filter(pa.array(~gaps)), x[~gaps]
    probability = np.full(len(x), np.nan)
    ok = np.isfinite(x).all(axis=1)
    if ok.any():
        probability[ok] = load_model(model)(x[ok]).reshape(-1)
    result = prediction_table(table, probability, info["classes"])
    partial = output.with_name(f".{output.name}.partial")  # an interrupted write never leaves a half file in place
    if output.suffix.lower() == ".csv":
        pacsv.write_csv(result, partial)
    else:
        pq.write_table(result, partial)
    partial.replace(output)
    return {"rows": result.num_rows, "output": str(output), "invalid_rows": int(gaps.sum()), "invalid_values": invalid,
            "dropped": bool(drop_invalid and gaps.any()), "positive_class": info.get("positive_class", info["classes"][1])}


def invalid_rows_note(written: dict) -> str | None:
    """What `predict --input` says about rows with gaps: skipped (--drop-invalid), or kept with an empty prediction."""
    if not written["invalid_rows"]:
        return None
    counts = ", ".join(f"{name}: {count}" for name, count in written["invalid_values"].items())
    if written["dropped"]:
        return f"--drop-invalid: skipped {written['invalid_rows']} rows with missing, NaN or infinite values ({counts})"
    return (f"{written['invalid_rows']} rows with missing, NaN or infinite values ({counts}) have an empty prediction; "
            "pass --drop-invalid to skip them")

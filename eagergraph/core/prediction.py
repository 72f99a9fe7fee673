"""Stage 7, predict: the graph model (eager in eager-only runs) reloaded from its SavedModel, on a new row and the test split."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from eagergraph.core.runtime import start_tensorflow
from eagergraph.data.io import DataError, feature_matrix, write_json
from eagergraph.data.normalize import Normalizer
from eagergraph.rundir.paths import MODEL_INFO, RunPaths, model_info_file

PREDICTED = "probability"


def prediction_table(features: pa.Table, probability: np.ndarray, classes: list) -> pa.Table:
    """The input columns plus the model's probability and the predicted class in the user's label values."""
    p = probability.reshape(-1)
    predicted = pa.array([classes[int(v)] for v in (p > 0.5)]) if classes != [0, 1] else pa.array((p > 0.5).astype(np.int8))
    return features.append_column(PREDICTED, pa.array(p)).append_column("predicted", predicted)


def parse_row(text: str, n_features: int) -> np.ndarray:
    """'v1,v2,...' as one row of floats, checked against the model's feature count."""
    parts = [part.strip() for part in text.split(",") if part.strip()]
    try:
        values = [float(part) for part in parts]
    except ValueError:
        bad = next(p for p in parts if not _is_float(p))
        raise DataError(f"--row: {bad!r} is not a number") from None
    if len(values) != n_features:
        raise DataError(f"--row: {len(values)} values given, the model takes {n_features} features")
    if not np.all(np.isfinite(values)):
        raise DataError("--row: NaN or infinite values cannot be predicted")
    return np.asarray([values], dtype=np.float64)


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def example_row(normalizer: Normalizer) -> np.ndarray:
    """A new row in raw feature space that is in no split: the training mean of every feature."""
    return np.asarray([normalizer.mean], dtype=np.float64)


def predict_run(run_dir: Path) -> dict:
    """Stage logic: reload models/graph from disk, predict the example row and the whole test split."""
    from eagergraph.core.training import load_serving

    paths = RunPaths.of(run_dir)
    normalizer = Normalizer.load(paths.normalizer)
    serve = load_serving(paths.model("graph" if paths.model("graph").is_dir() else "eager"))  # one-mode runs too
    row = example_row(normalizer)
    row_probability = float(serve(row)[0, 0])
    table = pq.read_table(paths.test_raw)
    probability = serve(feature_matrix(table, normalizer.features))
    pq.write_table(prediction_table(table, probability, normalizer.classes), paths.predictions)
    example = {"features": dict(zip(normalizer.features, row[0].tolist())), "probability": row_probability,
               "predicted": normalizer.classes[int(row_probability > 0.5)]}
    write_json(paths.prediction_row, example)
    return {"predictions": str(paths.predictions), "rows": table.num_rows, "example": example}


# ---------------------------------------------------------------- prediction from the command line


def resolve_model(path: Path) -> Path:
    """A SavedModel directory, or a run directory whose graph model is meant."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    if (path / "saved_model.pb").is_file():
        return path
    for mode in ("graph", "eager"):  # an eager-only run has no graph model
        if (RunPaths.of(path).model(mode) / "saved_model.pb").is_file():
            return RunPaths.of(path).model(mode)
    raise DataError(f"{path}: not a SavedModel directory (no saved_model.pb) nor a run directory with models/graph")


def model_info(model: Path) -> dict:
    from eagergraph.data.io import read_json

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
    from eagergraph.core.training import load_serving

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
    """Probability and predicted class for one raw row given as text."""
    model = resolve_model(model_path)
    info = model_info(model)
    row = parse_row(text, len(info["features"]))
    probability = float(load_model(model)(row)[0, 0])
    return {"probability": probability, "predicted": info["classes"][int(probability > 0.5)]}


def predict_file(model_path: Path, source: Path, output: Path | None) -> dict:
    """Predict every row of a CSV or Parquet file that holds the model's feature columns."""
    import pyarrow.csv as pacsv

    from eagergraph.data.ingest import arrow_reason, check_numeric, open_dataset

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
    if bad.any():
        counts = ", ".join(f"{n}: {int(c)}" for n, c in zip(info["features"], bad.sum(axis=0)) if c)
        raise DataError(f"{source}: missing, NaN or infinite values ({counts})")
    result = prediction_table(table, load_model(model)(x), info["classes"])
    partial = output.with_name(f".{output.name}.partial")  # an interrupted write never leaves a half file in place
    if output.suffix.lower() == ".csv":
        pacsv.write_csv(result, partial)
    else:
        pq.write_table(result, partial)
    partial.replace(output)
    return {"rows": result.num_rows, "output": str(output)}

"""Stage 7, predict: the graph model (eager in eager-only runs) reloaded from its SavedModel, on a new row and the test split."""

from __future__ import annotations

import contextlib
import itertools
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from eagergraph.core.outputs import PREDICTED, PREDICTED_CLASS, class_probability_column, label_values, output_names, task_table
from eagergraph.core.rows import parse_row, parse_row_json, row_columns
from eagergraph.core.runtime import start_tensorflow
from eagergraph.core.serving_inputs import (
    ModelInputs,
    Preprocessing,
    read_preprocessing,
    serving_columns,
    unpredictable,
    unseen_counts,
)
from eagergraph.data.cells import MISSING_TOKENS
from eagergraph.data.io import BLOCK_ROWS, LABEL, in_blocks, iter_batches, write_batches
from eagergraph.errors import DataError
from eagergraph.io import atomic_path, write_json
from eagergraph.metrics import positive_class, task_of
from eagergraph.rundir.paths import MODEL_INFO, RunPaths, model_info_file, resolve_model

if TYPE_CHECKING:  # TensorFlow loads only when a model is
    from eagergraph.core.export import Serving


def example_prediction(predictions: pa.Table, normalizer: Preprocessing, passthrough: list[str]) -> dict:
    """The first test row as the run's example: its features, its other columns, its true label and the prediction."""
    first = predictions.slice(0, 1).to_pylist()[0]
    names = output_names([*passthrough, *normalizer.features, LABEL], normalizer.classes, normalizer.task)
    example = {"row": "first test row", "columns": {name: str(first[name]) for name in passthrough},
               "features": {name: first[name] for name in normalizer.features}, "label": first[LABEL],
               "predicted": first[names[PREDICTED_CLASS]]}
    if normalizer.task == "binary":
        return {**example, "probability": first[names[PREDICTED]], "positive_class": positive_class(normalizer.classes)}
    if normalizer.task == "multiclass":
        return {**example, "task": "multiclass", "probability": first[names[PREDICTED]],
                "probabilities": {str(c): first[names[class_probability_column(c)]] for c in normalizer.classes}}
    return {**example, "task": "regression"}


def prediction_block(block: pa.Table, serve: Callable[[pa.Table], np.ndarray], normalizer: Preprocessing,
                     passthrough: list[str]) -> pa.Table:
    """One block of the raw test split as predictions.parquet holds it: its passthrough columns, its features, the
    true label in the user's values, then the task's prediction columns."""
    labels = label_values(block.column(LABEL).to_numpy(), normalizer.task, normalizer.classes)
    block = block.select([*passthrough, *normalizer.features]).append_column(LABEL, labels)
    return task_table(block, serve(block), normalizer.task, normalizer.classes)


def predict_run(run_dir: Path) -> dict:
    """Stage logic: reload models/graph from disk and predict the test split; predictions.parquet holds the test
    rows' passthrough columns (ids, dates, text), their features, the true label and the prediction, both in the
    user's label values, and the positive class's probability. The split is read, predicted and written in blocks
    of BLOCK_ROWS rows (`in_blocks`: memory flat in its rows); the example is the first test row."""
    from eagergraph.core.export import load_serving

    paths = RunPaths.of(run_dir)
    normalizer = read_preprocessing(paths.normalizer)
    serve = load_serving(paths.served_model)  # one-mode runs too
    schema = pq.read_schema(paths.test_raw)
    passthrough = [name for name in schema.names if name not in (*normalizer.features, LABEL)]
    raw = in_blocks(iter_batches(paths.test_raw))
    first = prediction_block(next(raw, schema.empty_table()), serve, normalizer, passthrough)
    blocks = itertools.chain([first], (prediction_block(block, serve, normalizer, passthrough) for block in raw))
    rows = write_batches(paths.predictions, first.schema, (batch for block in blocks for batch in block.to_batches()))
    example = example_prediction(first, normalizer, passthrough)
    write_json(paths.prediction_row, example)
    return {"predictions": paths.rel(paths.predictions), "rows": rows, "columns": passthrough, "example": example}


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


def load_model(model: Path) -> Serving:
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


def predict_row(model_path: Path, text: str, as_json: bool = False) -> dict:
    """Probability of the positive class and the predicted class (the user's label value) for one raw row: a CSV
    line in the model's feature order (`--row`), or a JSON object by name (`--row-json`). `unseen` counts the
    categorical values not in the model's vocabulary (unseen: they contribute nothing)."""
    model = resolve_model(model_path)
    info = model_info(model)
    inputs = ModelInputs.of(info)
    option = "--row-json" if as_json else "--row"
    cells = parse_row_json(text, inputs.features) if as_json else parse_row(text, inputs.features)
    columns = row_columns(cells, inputs, option)
    output = load_model(model).feed(columns)
    unseen = unseen_counts(columns, inputs)
    task = task_of(info)
    if task == "regression":
        return {"task": task, "predicted": float(output[0, 0]), "unseen": unseen}
    if task == "multiclass":
        p = [float(v) for v in output[0]]
        best = int(np.argmax(p))
        return {"task": task, "predicted": info["classes"][best], "probability": p[best],
                "probabilities": {str(c): v for c, v in zip(info["classes"], p)}, "unseen": unseen}
    probability = float(output[0, 0])
    return {"task": task, "probability": probability, "predicted": info["classes"][int(probability > 0.5)],
            "positive_class": info.get("positive_class", positive_class(info["classes"])), "unseen": unseen}


def input_batches(source: Path, features: list[str]) -> Iterator[pa.RecordBatch]:
    """The file `predict --input` reads, a batch at a time (a CSV block or a Parquet row group, one read ahead at
    most: memory stays flat in the file's rows). A CSV file's feature columns are read as text and converted by the
    model's kinds (`serving_columns`: trimmed, missing tokens missing, numbers parsed): Arrow's type inference sees
    the first block only, so a blank cell or a word further down would otherwise fail the whole read."""
    import pyarrow.csv as pacsv
    import pyarrow.dataset as ds

    from eagergraph.data.reader import arrow_reason, open_dataset, scanner

    dataset = open_dataset(Path(source))  # the file checks (exists, readable, not empty)
    if Path(source).suffix.lower() == ".csv":
        options = pacsv.ConvertOptions(null_values=list(MISSING_TOKENS), strings_can_be_null=True,
                                       column_types={name: pa.string() for name in features})
        dataset = ds.dataset(source, format=ds.CsvFileFormat(convert_options=options))
    try:
        yield from scanner(dataset, None, batch_size=BLOCK_ROWS).to_batches()  # bounded memory, as ingest reads
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"{source}: cannot read: {arrow_reason(exc, dataset.schema)}") from None


class FilePredictor:
    """`predict --input` on one block of the file at a time, counting over all of them: the rows it cannot predict
    (a missing value in a numeric column the model does not impute, an infinite value) per column, and the
    categorical values not in the model's vocabulary. TensorFlow starts at the first block with a row to predict,
    so a file's bad cells are reported before it."""

    def __init__(self, model: Path, info: dict, source: Path, drop_invalid: bool) -> None:
        self.model, self.inputs, self.where, self.drop_invalid = model, ModelInputs.of(info), str(source), drop_invalid
        self.task, self.classes = task_of(info), info["classes"]
        self.width = len(self.classes) if self.task == "multiclass" else 1
        self.invalid: Counter[str] = Counter()
        self.unseen: Counter[str] = Counter()
        self.invalid_rows = self.rows = 0
        self._serve: Serving | None = None

    def predict(self, table: pa.Table, columns: dict[str, np.ndarray] | None = None) -> pa.Table:
        """The block with the task's prediction columns; a row not predicted gets empty ones, or is left out
        (`drop_invalid`). `columns`: the block's `serving_columns` when the caller has them already."""
        columns = serving_columns(table, self.inputs, self.where) if columns is None else columns
        bad = unpredictable(columns, self.inputs)
        gaps = np.logical_or.reduce([*bad.values(), np.zeros(table.num_rows, dtype=bool)])
        usable = {name: values[~gaps] for name, values in columns.items()} if gaps.any() else columns
        self.invalid.update({name: int(rows.sum()) for name, rows in bad.items()})
        self.unseen.update(unseen_counts(usable, self.inputs))
        self.invalid_rows += int(gaps.sum())
        scores = self._scores(usable) if not gaps.all() else np.empty((0, self.width))
        if self.drop_invalid or not gaps.any():  # every row predicted: the scores as they are
            table, served = (table.filter(pa.array(~gaps)) if gaps.any() else table), scores
        else:
            served = np.full((table.num_rows, self.width), np.nan)
            served[~gaps] = scores
        result = task_table(table, served, self.task, self.classes)
        self.rows += result.num_rows
        return result

    def _scores(self, usable: dict[str, np.ndarray]) -> np.ndarray:
        if self._serve is None:
            self._serve = load_model(self.model)
        return self._serve.feed(usable).reshape(-1, self.width)  # converted once, by `predict`

    def in_model_order(self, counts: Counter[str]) -> dict[str, int]:
        """Counts per column in the model's feature order, the columns with none left out."""
        return {name: counts[name] for name in self.inputs.features if counts[name]}


def predict_file(model_path: Path, source: Path, output: Path | None, drop_invalid: bool = False) -> dict:
    """Predict every row of a CSV or Parquet file that holds the model's raw feature columns (text ones too); the
    file's other columns are kept. Read, predicted and written a block at a time (`FilePredictor`: what it counts
    and how a row it cannot predict is written)."""
    import pyarrow.csv as pacsv

    model = resolve_model(model_path)
    info = model_info(model)
    output = output_path(source, output)
    predictor = FilePredictor(model, info, Path(source), drop_invalid)
    # an interrupted or failed write never leaves a half file in place; the writer closes before the rename
    with atomic_path(output) as partial, contextlib.ExitStack() as open_writer:
        writer: pacsv.CSVWriter | pq.ParquetWriter | None = None
        for rows in in_blocks(input_batches(Path(source), predictor.inputs.features)):
            block = predictor.predict(rows)
            if writer is None:
                writer = open_writer.enter_context(pacsv.CSVWriter(partial, block.schema) if output.suffix.lower() == ".csv"
                                                   else pq.ParquetWriter(partial, block.schema))
            writer.write_table(block)
    task = predictor.task
    return {"rows": predictor.rows, "output": str(output), "invalid_rows": predictor.invalid_rows,
            "invalid_values": predictor.in_model_order(predictor.invalid),
            "dropped": bool(drop_invalid and predictor.invalid_rows), "unseen": predictor.in_model_order(predictor.unseen),
            "task": task, "positive_class": info.get("positive_class", positive_class(info["classes"])) if task == "binary" else None}


def invalid_rows_note(written: dict) -> str | None:
    """What `predict --input` says about rows it cannot predict (a gap in a column the model does not impute, an
    infinite value): skipped (--drop-invalid), or kept with an empty prediction."""
    if not written["invalid_rows"]:
        return None
    counts = ", ".join(f"{name}: {count}" for name, count in written["invalid_values"].items())
    if written["dropped"]:
        return f"--drop-invalid: skipped {written['invalid_rows']} rows with missing, NaN or infinite values ({counts})"
    return (f"{written['invalid_rows']} rows with missing, NaN or infinite values ({counts}) have an empty prediction; "
            "pass --drop-invalid to skip them")


def unseen_note(unseen: dict[str, int]) -> str | None:
    """What `predict` says about categorical values the model never saw in training (they contribute nothing)."""
    if not unseen:
        return None
    counts = ", ".join(f"{name}: {count}" for name, count in unseen.items())
    total = sum(unseen.values())
    return f"{total} value{'s' if total != 1 else ''} not in the model's vocabulary contribute nothing (unseen) ({counts})"

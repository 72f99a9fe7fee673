"""What a training run leaves behind: the SavedModel (preprocessing inside), the weights and the history."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pyarrow as pa
import tensorflow as tf

from eagergraph.core.model import HEADS
from eagergraph.core.serving_inputs import (
    CATEGORICAL,
    INTEGRAL_TEXT,
    MATRIX_INPUT,
    NUMERIC,
    CategoricalColumn,
    ModelInputs,
    Preprocessing,
    integer_vocabulary,
    preprocessing_of,
    serving_columns,
    signature_names,
)
from eagergraph.data.cells import BOOLEAN_WORDS, MISSING_TOKENS, WHITESPACE
from eagergraph.data.preprocessing import (
    active_codes,
    bounded_z,
    destandardize,
    missing_slot,
    slot_count,
    unseen_slot,
    with_squares,
)
from eagergraph.io import read_json, write_json
from eagergraph.metrics import positive_class
from eagergraph.rundir.paths import RunPaths, model_info_file

# The model's input layout (data contract): the numeric features' z, their squares, the missing indicators of the
# imputed ones, then per categorical feature a one-hot over its vocabulary, an unseen slot and a missing slot.


def _lookup_table(vocabulary: list[str]) -> tf.lookup.StaticHashTable:
    """Vocabulary value → its index; anything else → the unseen slot."""
    keys = tf.constant(vocabulary, tf.string)
    values = tf.range(len(vocabulary), dtype=tf.int64)
    return tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(keys, values),
                                     default_value=unseen_slot(len(vocabulary)))


def _numeric_inputs(inputs: dict[str, tf.Tensor], prep: Preprocessing, names: dict[str, str]) -> list[tf.Tensor]:
    """z and z² of every numeric feature, then the imputed ones' missing indicators: float32 [rows, k] parts."""
    if not prep.numeric:
        return []
    z, indicators = [], []
    for column in prep.numeric:
        x = inputs[names[column.name]]
        if column.impute is not None:
            missing = tf.math.is_nan(x)
            x = tf.where(missing, tf.constant(column.impute, tf.float64), x)
            indicators.append(tf.cast(missing, tf.float32))
        z.append(bounded_z(x, tf.constant(column.mean, tf.float64), tf.constant(column.std, tf.float64),
                           tf.clip_by_value))
    # standardized and clipped in float64, stored float32, squared in float32: what the data stages write
    parts = [with_squares(tf.cast(tf.stack(z, axis=1), tf.float32), partial(tf.concat, axis=1))]
    return parts + ([tf.stack(indicators, axis=1)] if indicators else [])


_TRIM = "^[{0}]+|[{0}]+$".format("".join(f"\\x{{{ord(c):04x}}}" for c in WHITESPACE))  # RE2: \x{hhhh} per character


def canonical_text_tf(text: tf.Tensor, vocabulary: list[str]) -> tf.Tensor:
    """`columns.canonical_text` in tf.strings ops, so a client sending raw strings gets what `predict` gets: trimmed of
    WHITESPACE, a missing token "" (missing), a boolean word in any case "true"/"false"; and, for a vocabulary of
    integers, integral text ("03", "+3", "3.0") as its integer, as `serving_inputs` reads an integer column."""
    text = tf.strings.regex_replace(text, _TRIM, "")
    lower = tf.strings.lower(text)
    text = tf.where(tf.reduce_any(tf.equal(lower[:, None], tf.constant(BOOLEAN_WORDS)[None, :]), axis=1), lower, text)
    if integer_vocabulary(vocabulary):
        integral = tf.strings.regex_full_match(text, INTEGRAL_TEXT)
        number = tf.strings.to_number(tf.where(integral, text, tf.zeros_like(text) + "0"), tf.float64)
        text = tf.where(integral, tf.strings.as_string(tf.cast(number, tf.int64)), text)
    missing = tf.reduce_any(tf.equal(text[:, None], tf.constant(MISSING_TOKENS)[None, :]), axis=1)
    return tf.where(missing, tf.zeros_like(text), text)


def _one_hot(text: tf.Tensor, column: CategoricalColumn, table: tf.lookup.StaticHashTable | None) -> tf.Tensor:
    """One categorical feature: vocabulary slots, then the unseen slot, then the missing slot (a missing cell by the
    text-cell rule); which of them a value activates is `active_codes`' rule (NO_SLOT one-hots to all zeros)."""
    text = canonical_text_tf(text, column.vocabulary)
    size = len(column.vocabulary)
    unseen = tf.constant(unseen_slot(size), tf.int64)
    index = table.lookup(text) if table is not None else tf.fill(tf.shape(text, out_type=tf.int64), unseen)
    index = tf.where(tf.equal(text, ""), tf.constant(missing_slot(size), tf.int64), index)
    return tf.one_hot(active_codes(index, size, column.missing_trained, tf.where), slot_count(size), dtype=tf.float32)


def export_model(model: keras.Model, normalizer: Any, path: Path) -> Path:
    """Write a SavedModel whose `serving_default` takes the raw columns, one named input per feature (numeric
    float64 with NaN for missing, categorical text with "" for missing), and does the whole preprocessing.

    `normalizer`: the run's Normalizer (or normalizer.json as a dict), in either schema (see `preprocessing_of`).
    assets.extra/eagergraph.json records the column → input name mapping, kinds, vocabularies and classes.
    """
    prep = preprocessing_of(normalizer)
    names = signature_names(prep.features)
    kinds = {c.name: NUMERIC for c in prep.numeric} | {c.name: CATEGORICAL for c in prep.categorical}
    tables = {c.name: _lookup_table(c.vocabulary) for c in prep.categorical if c.vocabulary}

    output = output_name(prep.task)

    def serve(inputs: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        parts = _numeric_inputs(inputs, prep, names)
        parts += [_one_hot(inputs[names[c.name]], c, tables.get(c.name)) for c in prep.categorical]
        return {output: head_output(model(tf.concat(parts, axis=1), training=False), prep)}

    archive = keras.export.ExportArchive()
    archive.track(model)
    for table in tables.values():
        archive.track(table)  # lookup tables are resources the SavedModel must carry
    specs = {names[f]: tf.TensorSpec([None], tf.float64 if kinds[f] == NUMERIC else tf.string, name=names[f])
             for f in prep.features}
    archive.add_endpoint(name="serving_default", fn=serve, input_signature=[specs])
    archive.write_out(str(path), verbose=False)
    # TF Serving's place for extra files: lets `eagergraph predict` (and the gate) build the inputs by name.
    write_json(model_info_file(path), {
        "features": prep.features, "inputs": names, "kinds": kinds,
        "vocabularies": {c.name: c.vocabulary for c in prep.categorical},
        "imputed": {c.name: c.impute for c in prep.numeric if c.impute is not None},
        "classes": prep.classes, **task_info(prep)})
    return path


def output_name(task: str) -> str:
    """The serving signature's output: `probability` [rows, 1] (binary), `probabilities` [rows, K] (multiclass, in
    eagergraph.json's `classes` order), `value` [rows, 1] (regression, in the target's units)."""
    return HEADS[task][2]


def head_output(output: tf.Tensor, prep: Preprocessing) -> tf.Tensor:
    """The model's output as served: a regression's standardized value back in the target's units (float64)."""
    if prep.task != "regression":
        return output
    return destandardize(tf.cast(output, tf.float64), prep.target["mean"], prep.target["std"])


def task_info(prep: Preprocessing) -> dict:
    """eagergraph.json's task fields: every model names its task and output; binary adds its positive class,
    regression the target's statistics."""
    fields = {"task": prep.task, "output": output_name(prep.task)}
    if prep.task == "binary":
        return {**fields, "positive_class": positive_class(prep.classes)}
    return {**fields, **({"target": prep.target} if prep.target else {})}


class Serving:
    """The exported model's serving signature, read with TensorFlow alone, as a function of raw columns (a pyarrow
    Table or a dict of columns, the model's features by name; other columns are ignored) → the model's one output:
    probabilities [rows, 1] (binary), [rows, K] (multiclass) or values [rows, 1] (regression, target units).
    `feed` takes columns `serving_columns` has already converted (what predict and scoring hold): no second pass.

    Models exported before raw-column signatures (one float32 `features` matrix input) are detected and get the
    matrix of their (numeric) features. A 2-D array is taken as the features in the model's order.
    """

    def __init__(self, path: Path) -> None:
        self.loaded = tf.saved_model.load(str(path))  # the signature's variables and tables live as long as it
        self.signature = self.loaded.signatures["serving_default"]
        self.inputs = ModelInputs.of(read_json(model_info_file(path)))
        self.where = str(path)
        _, specs = self.signature.structured_input_signature
        self.matrix = set(specs) == {MATRIX_INPUT} and specs[MATRIX_INPUT].shape.rank == 2

    def __call__(self, data: pa.Table | Mapping[str, Any] | np.ndarray) -> np.ndarray:
        if isinstance(data, np.ndarray):
            data = dict(zip(self.inputs.features, np.atleast_2d(data).T))
        return self.feed(serving_columns(data, self.inputs, where=self.where))

    def feed(self, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        """The signature on converted columns (`serving_columns`'s output)."""
        inputs = self.inputs
        if self.matrix:
            x = np.column_stack([columns[f] for f in inputs.features]).astype(np.float32)
            return self.signature(**{MATRIX_INPUT: tf.constant(x)})["probability"].numpy()
        feeds = {inputs.names[f]: tf.constant(columns[f], tf.float64 if inputs.kinds[f] == NUMERIC else tf.string)
                 for f in inputs.features}
        return next(iter(self.signature(**feeds).values())).numpy()  # the one output, whichever the task


def load_serving(path: Path) -> Serving:
    """The exported model at `path`, ready to serve (`Serving`)."""
    return Serving(path)


def save_weights(model: keras.Model, path: Path) -> Path:
    """The trained weights as .npz, so the two modes can be compared variable by variable."""
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **{v.path.replace("/", "__"): v.numpy() for v in model.weights})
    return path


def weights_max_abs_diff(a: Path, b: Path) -> float:
    with np.load(a) as wa, np.load(b) as wb:
        return max(float(np.max(np.abs(wa[k] - wb[k]))) for k in wa.files)


def save_trained(out: RunPaths, mode: str, model: keras.Model, normalizer: Any, record: dict) -> dict:
    """Export the model, save its weights and its history record under `out` (a run, or a sweep candidate)."""
    export_model(model, normalizer, out.model(mode))
    save_weights(model, out.weights(mode))
    write_json(out.history(mode), record)
    return {"model": str(out.model(mode)), "history": str(out.history(mode)), "weights": str(out.weights(mode))}

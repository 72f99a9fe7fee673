"""What a training run leaves behind: the SavedModel (preprocessing inside), the weights and the history."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from eagergraph.data.normalize import Normalizer
from eagergraph.data.preprocessing import preprocess
from eagergraph.io import write_json
from eagergraph.rundir.paths import RunPaths, model_info_file


def export_model(model: keras.Model, normalizer: Normalizer, path: Path) -> Path:
    """Write a SavedModel whose `serving_default` takes raw features and does the preprocessing itself."""
    mean = tf.constant(normalizer.mean, tf.float64)
    std = tf.constant(normalizer.std, tf.float64)

    def serve(features: tf.Tensor) -> dict[str, tf.Tensor]:
        inputs = preprocess(tf.cast(features, tf.float64), mean, std, lambda parts: tf.concat(parts, axis=1),
                            lambda z: tf.cast(z, tf.float32))
        return {"probability": model(inputs, training=False)}

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(name="serving_default", fn=serve,
                         input_signature=[tf.TensorSpec([None, len(normalizer.features)], tf.float32, name="features")])
    archive.write_out(str(path), verbose=False)
    # TF Serving's place for extra files: lets `eagergraph predict` match input columns by name.
    write_json(model_info_file(path), {"features": normalizer.features, "classes": normalizer.classes,
                                       "positive_class": normalizer.classes[1]})
    return path


def load_serving(path: Path) -> Callable[[np.ndarray], np.ndarray]:
    """The exported model's serving signature as a numpy function, read with TensorFlow alone."""
    signature = tf.saved_model.load(str(path)).signatures["serving_default"]
    return lambda x: signature(features=tf.constant(np.asarray(x, dtype=np.float32)))["probability"].numpy()


def save_weights(model: keras.Model, path: Path) -> Path:
    """The trained weights as .npz, so the two modes can be compared variable by variable."""
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **{v.path.replace("/", "__"): v.numpy() for v in model.weights})
    return path


def weights_max_abs_diff(a: Path, b: Path) -> float:
    with np.load(a) as wa, np.load(b) as wb:
        return max(float(np.max(np.abs(wa[k] - wb[k]))) for k in wa.files)


def save_trained(out: RunPaths, mode: str, model: keras.Model, normalizer: Normalizer, record: dict) -> dict:
    """Export the model, save its weights and its history record under `out` (a run, or a sweep candidate)."""
    export_model(model, normalizer, out.model(mode))
    save_weights(model, out.weights(mode))
    write_json(out.history(mode), record)
    return {"model": str(out.model(mode)), "history": str(out.history(mode)), "weights": str(out.weights(mode))}

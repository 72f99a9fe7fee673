"""Stages 4 and 5, train-eager and train-graph: one step body, run eagerly or inside tf.function.

Both modes start from the same seeded initial weights and see the same batches in the same order, so the
trained weights agree to float tolerance and any difference in speed is the execution mode alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import keras
import numpy as np
import pyarrow.parquet as pq
import tensorflow as tf
from prefect import get_run_logger, task

from tasks.common import LABEL, write_json
from tasks.normalize import Normalizer
from tasks.paths import MODEL_INFO, RunPaths

Mode = Literal["eager", "graph"]
Variant = Literal["step", "fused", "xla"]
VARIANTS: tuple[Variant, ...] = ("step", "fused", "xla")


# ---------------------------------------------------------------- data and model


def load_xy(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Features (float32, rows × columns) and label (float32, rows × 1) of an engineered split."""
    table = pq.read_table(path)
    names = [name for name in table.column_names if name != LABEL]
    x = np.column_stack([table.column(n).to_numpy() for n in names]).astype(np.float32)
    y = table.column(LABEL).to_numpy().astype(np.float32).reshape(-1, 1)
    return x, y


def epoch_order(n_rows: int, seed: int, epoch: int) -> np.ndarray:
    """The row order of one epoch: a seeded permutation that every mode and variant shares."""
    return np.random.default_rng([seed, 3, epoch]).permutation(n_rows).astype(np.int32)


def build_model(n_inputs: int, hidden: int, seed: int) -> keras.Model:
    """Input → Dense(hidden, ReLU) → Dense(1, sigmoid), with seeded initializers: every build has equal weights."""
    inputs = keras.Input((n_inputs,), name="features")
    h = keras.layers.Dense(hidden, activation="relu", name="hidden",
                           kernel_initializer=keras.initializers.GlorotUniform(seed=seed))(inputs)
    out = keras.layers.Dense(1, activation="sigmoid", name="probability",
                             kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 1))(h)
    return keras.Model(inputs, out, name="eagergraph_mlp")


@dataclass
class Totals:
    """Running sums of one epoch, kept in TensorFlow variables so a graph never syncs with Python per step."""

    loss: tf.Variable = field(default_factory=lambda: tf.Variable(0.0, trainable=False))
    correct: tf.Variable = field(default_factory=lambda: tf.Variable(0.0, trainable=False))
    count: tf.Variable = field(default_factory=lambda: tf.Variable(0.0, trainable=False))

    def reset(self) -> None:
        for variable in (self.loss, self.correct, self.count):
            variable.assign(0.0)

    def result(self) -> tuple[float, float]:
        count = max(float(self.count.numpy()), 1.0)
        return float(self.loss.numpy()) / count, float(self.correct.numpy()) / count


def make_train_step(model: keras.Model, optimizer: keras.optimizers.Optimizer,
                    loss_fn: keras.losses.Loss, totals: Totals) -> Callable[[tf.Tensor, tf.Tensor], tf.Tensor]:
    """The one training-step body. Eager mode calls it as is; graph mode wraps it in tf.function."""

    def train_step(x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            probability = model(x, training=True)
            loss = loss_fn(y, probability)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        n = tf.cast(tf.shape(x)[0], tf.float32)
        totals.loss.assign_add(loss * n)
        totals.correct.assign_add(tf.reduce_sum(tf.cast(tf.equal(probability > 0.5, y > 0.5), tf.float32)))
        totals.count.assign_add(n)
        return loss

    return train_step


# ---------------------------------------------------------------- the two modes and the graph variants


@dataclass
class Runner:
    """Runs one epoch given its row order; built fresh for every training run (no tf.function is ever shared)."""

    run_epoch: Callable[[np.ndarray], None]
    trace: Callable[[], None] = lambda: None  # builds the graph up front, so tracing is timed apart
    tracing_count: Callable[[], int] = lambda: 0


def _batches(x: tf.Tensor, y: tf.Tensor, order: np.ndarray, batch_size: int) -> tf.data.Dataset:
    """The epoch's batches as a tf.data pipeline; the last batch may be partial."""
    index = tf.constant(order)
    return tf.data.Dataset.from_tensor_slices((tf.gather(x, index), tf.gather(y, index))).batch(batch_size)


def eager_runner(step: Callable, x: tf.Tensor, y: tf.Tensor, batch_size: int) -> Runner:
    """Eager execution: a Python loop calls the step, every operation runs as soon as it is reached."""

    def run_epoch(order: np.ndarray) -> None:
        for xb, yb in _batches(x, y, order, batch_size):
            step(xb, yb)

    return Runner(run_epoch)


def step_runner(step: Callable, x: tf.Tensor, y: tf.Tensor, batch_size: int, jit_compile: bool = False) -> Runner:
    """The textbook graph form: tf.function around one step, called from a Python loop over tf.data."""
    spec = (tf.TensorSpec([None, x.shape[1]], tf.float32), tf.TensorSpec([None, 1], tf.float32))
    graph_step = tf.function(step, input_signature=spec, jit_compile=jit_compile, reduce_retracing=True)

    def run_epoch(order: np.ndarray) -> None:
        for xb, yb in _batches(x, y, order, batch_size):
            graph_step(xb, yb)

    return Runner(run_epoch, lambda: graph_step.get_concrete_function(), graph_step.experimental_get_tracing_count)


def fused_runner(step: Callable, x: tf.Tensor, y: tf.Tensor, batch_size: int) -> Runner:
    """The whole epoch in one tf.function: data held as tensors, a tf.range loop gathers each batch."""
    n_rows = int(x.shape[0])
    steps = -(-n_rows // batch_size)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.int32)])
    def train_epoch(order: tf.Tensor) -> None:
        for i in tf.range(steps):
            rows = order[i * batch_size:tf.minimum((i + 1) * batch_size, n_rows)]
            step(tf.gather(x, rows), tf.gather(y, rows))

    return Runner(lambda order: train_epoch(tf.constant(order)), lambda: train_epoch.get_concrete_function(),
                  train_epoch.experimental_get_tracing_count)


def make_runner(mode: Mode, variant: Variant, step: Callable, x: tf.Tensor, y: tf.Tensor, batch_size: int) -> Runner:
    if mode == "eager":
        return eager_runner(step, x, y, batch_size)
    if variant == "fused":
        return fused_runner(step, x, y, batch_size)
    if variant == "xla":
        return step_runner(step, x, y, batch_size, jit_compile=True)
    return step_runner(step, x, y, batch_size)


# ---------------------------------------------------------------- training


@dataclass
class TrainResult:
    """What one training run reports; becomes `<mode>_history.json` and part of metrics.json."""

    mode: str
    variant: str | None
    history: list[dict]
    train_seconds: float
    trace_seconds: float
    steady_seconds: float
    epoch_seconds: list[float]
    steps_per_epoch: int
    median_step_ms: float
    tracing_count: int


def train(x: np.ndarray, y: np.ndarray, mode: Mode, variant: Variant, epochs: int, batch_size: int, hidden: int,
          learning_rate: float, seed: int, on_epoch: Callable[[dict], None] | None = None) -> tuple[keras.Model, TrainResult]:
    """Train a fresh model in the given mode; the same arguments give the same batches and initial weights in every mode."""
    tf.config.experimental.enable_op_determinism()
    model = build_model(x.shape[1], hidden, seed)
    optimizer = keras.optimizers.Adam(learning_rate)
    optimizer.build(model.trainable_variables)
    totals = Totals()
    step = make_train_step(model, optimizer, keras.losses.BinaryCrossentropy(), totals)
    runner = make_runner(mode, variant, step, tf.constant(x), tf.constant(y), batch_size)
    started = time.perf_counter()
    runner.trace()
    trace_seconds = time.perf_counter() - started
    history, epoch_seconds = [], []
    for epoch in range(epochs):
        totals.reset()
        epoch_started = time.perf_counter()
        runner.run_epoch(epoch_order(len(x), seed, epoch))
        loss, accuracy = totals.result()  # reading the totals waits for the epoch's last step
        epoch_seconds.append(time.perf_counter() - epoch_started)
        history.append({"epoch": epoch + 1, "loss": loss, "accuracy": accuracy, "seconds": epoch_seconds[-1]})
        if on_epoch is not None:
            on_epoch(history[-1])
    total = time.perf_counter() - started
    steps = -(-len(x) // batch_size)
    result = TrainResult(mode, None if mode == "eager" else variant, history, total, trace_seconds, total - trace_seconds,
                         epoch_seconds, steps, float(np.median(epoch_seconds)) / steps * 1000.0, runner.tracing_count())
    return model, result


# ---------------------------------------------------------------- export


def export_model(model: keras.Model, normalizer: Normalizer, path: Path) -> Path:
    """Write a SavedModel whose `serving_default` takes raw features and does the preprocessing itself."""
    n_raw = len(normalizer.features)
    mean = tf.constant(normalizer.mean, tf.float64)
    std = tf.constant(normalizer.std, tf.float64)

    def serve(features: tf.Tensor) -> dict[str, tf.Tensor]:
        z = tf.cast((tf.cast(features, tf.float64) - mean) / std, tf.float32)
        return {"probability": model(tf.concat([z, tf.square(z)], axis=1), training=False)}

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(name="serving_default", fn=serve,
                         input_signature=[tf.TensorSpec([None, n_raw], tf.float32, name="features")])
    archive.write_out(str(path), verbose=False)
    # TF Serving's place for extra files: lets `eagergraph predict` match input columns by name.
    write_json(path / "assets.extra" / MODEL_INFO, {"features": normalizer.features, "classes": normalizer.classes})
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


# ---------------------------------------------------------------- the stages


def train_to(run_dir: Path, mode: Mode, variant: Variant, epochs: int, batch_size: int, hidden: int,
             learning_rate: float, seed: int, on_epoch: Callable[[dict], None] | None = None) -> dict:
    """Stage logic: train on features/train.parquet, export the SavedModel, save weights and history."""
    paths = RunPaths.of(run_dir)
    x, y = load_xy(paths.features("train"))
    model, result = train(x, y, mode, variant, epochs, batch_size, hidden, learning_rate, seed, on_epoch)
    export_model(model, Normalizer.load(paths.normalizer), paths.model(mode))
    save_weights(model, paths.weights(mode))
    write_json(paths.history(mode), asdict(result))
    return {"model": str(paths.model(mode)), "history": str(paths.history(mode)), "weights": str(paths.weights(mode)),
            **{k: v for k, v in asdict(result).items() if k not in ("history", "epoch_seconds")},
            "final_loss": result.history[-1]["loss"], "final_accuracy": result.history[-1]["accuracy"]}


def _training_task(mode: Mode, run_dir: str, variant: Variant, **params) -> dict:
    logger = get_run_logger()
    result = train_to(Path(run_dir), mode, variant, on_epoch=lambda e: logger.info(
        f"{mode} epoch {e['epoch']}: loss {e['loss']:.4f} accuracy {e['accuracy']:.4f} ({e['seconds']:.2f}s)"), **params)
    logger.info(f"{mode} trained in {result['train_seconds']:.2f}s (tracing {result['trace_seconds']:.2f}s, "
                f"median step {result['median_step_ms']:.3f} ms)")
    return result


@task(name="train-eager")
def train_eager(run_dir: str, epochs: int, batch_size: int, hidden: int, learning_rate: float, seed: int) -> dict:
    """Train with eager execution: the step body runs op by op, no tf.function anywhere on its path."""
    return _training_task("eager", run_dir, "step", epochs=epochs, batch_size=batch_size, hidden=hidden,
                          learning_rate=learning_rate, seed=seed)


@task(name="train-graph")
def train_graph(run_dir: str, variant: Variant, epochs: int, batch_size: int, hidden: int, learning_rate: float, seed: int) -> dict:
    """Train with graph execution: the same step body inside tf.function, in the configured variant."""
    return _training_task("graph", run_dir, variant, epochs=epochs, batch_size=batch_size, hidden=hidden,
                          learning_rate=learning_rate, seed=seed)

"""Stages 4 and 5, train-eager and train-graph: one step body, run eagerly or inside tf.function.

Both modes start from the same seeded initial weights and see the same batches in the same order, so the
trained weights agree to float tolerance and any difference in speed is the execution mode alone.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import keras
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import tensorflow as tf

from eagergraph.data.io import LABEL, write_json
from eagergraph.data.normalize import Normalizer
from eagergraph.rundir.paths import MODEL_INFO, RunPaths

Mode = Literal["eager", "graph"]
Variant = Literal["step", "fused", "xla"]
VARIANTS: tuple[Variant, ...] = ("step", "fused", "xla")
IN_MEMORY_ROWS = 1_000_000  # train splits up to this size are held as tensors; larger ones stream from Parquet


# ---------------------------------------------------------------- data and model


def load_xy(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Features (float32, rows × columns) and label (float32, rows × 1) of an engineered split."""
    table = pq.read_table(path)
    return _xy(table, [name for name in table.column_names if name != LABEL])


def epoch_order(n_rows: int, seed: int, epoch: int) -> np.ndarray:
    """The row order of one epoch: a seeded permutation that every mode and variant shares."""
    return np.random.default_rng([seed, 3, epoch]).permutation(n_rows).astype(np.int32)


class BatchSource:
    """Where one training run's batches come from. Every mode and variant asks the same source, so they all
    see the same batches in the same order; `batches(epoch)` is a tf.data pipeline, the last batch may be partial."""

    n_rows: int
    n_inputs: int
    batch_size: int

    def batches(self, epoch: int) -> tf.data.Dataset:
        raise NotImplementedError

    @property
    def steps_per_epoch(self) -> int:
        return -(-self.n_rows // self.batch_size)


@dataclass
class InMemorySource(BatchSource):
    """Small data: the whole split as tensors, shuffled by a seeded permutation per epoch (the fused variant needs it)."""

    x: np.ndarray
    y: np.ndarray
    batch_size: int
    seed: int

    def __post_init__(self) -> None:
        self.n_rows, self.n_inputs = int(self.x.shape[0]), int(self.x.shape[1])

    def order(self, epoch: int) -> np.ndarray:
        return epoch_order(self.n_rows, self.seed, epoch)

    def batches(self, epoch: int) -> tf.data.Dataset:
        return _batches(tf.constant(self.x), tf.constant(self.y), self.order(epoch), self.batch_size)


@dataclass
class ParquetSource(BatchSource):
    """Large data: batches streamed from a Parquet file, one row group in memory at a time.

    Each epoch visits the row groups in a seeded order and shuffles the rows within each row group (the shuffle
    window) by a seeded permutation, so the batch order is a pure function of (seed, epoch): eager and graph
    training read identical batches without the table ever being held whole.
    """

    path: Path
    batch_size: int
    seed: int

    def __post_init__(self) -> None:
        meta = pq.ParquetFile(self.path).metadata
        self.columns = [name for name in meta.schema.to_arrow_schema().names if name != LABEL]
        self.n_rows, self.n_inputs = int(meta.num_rows), len(self.columns)
        self.row_groups = meta.num_row_groups

    def _arrays(self, epoch: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        file = pq.ParquetFile(self.path)
        carry_x = np.empty((0, self.n_inputs), np.float32)
        carry_y = np.empty((0, 1), np.float32)
        for group in np.random.default_rng([self.seed, 4, epoch]).permutation(self.row_groups):
            x, y = _xy(file.read_row_group(int(group)), self.columns)
            window = np.random.default_rng([self.seed, 5, epoch, int(group)]).permutation(len(x))
            x, y = np.concatenate([carry_x, x[window]]), np.concatenate([carry_y, y[window]])
            full = len(x) - len(x) % self.batch_size
            for start in range(0, full, self.batch_size):
                yield x[start:start + self.batch_size], y[start:start + self.batch_size]
            carry_x, carry_y = x[full:], y[full:]
        if len(carry_x):
            yield carry_x, carry_y

    def batches(self, epoch: int) -> tf.data.Dataset:
        spec = (tf.TensorSpec([None, self.n_inputs], tf.float32), tf.TensorSpec([None, 1], tf.float32))
        return tf.data.Dataset.from_generator(lambda: self._arrays(epoch), output_signature=spec).prefetch(2)


def _xy(table: pa.Table, columns: list[str]) -> tuple[np.ndarray, np.ndarray]:
    x = np.column_stack([table.column(n).to_numpy() for n in columns]).astype(np.float32, copy=False)
    return x, table.column(LABEL).to_numpy().astype(np.float32).reshape(-1, 1)


def open_source(path: Path, batch_size: int, seed: int, in_memory_rows: int) -> BatchSource:
    """Tensors in memory up to `in_memory_rows` rows (fastest, and what the fused variant needs); a stream above."""
    if pq.ParquetFile(path).metadata.num_rows <= in_memory_rows:
        x, y = load_xy(path)
        return InMemorySource(x, y, batch_size, seed)
    return ParquetSource(Path(path), batch_size, seed)


def source_runner(mode: Mode, variant: Variant, step: Callable, source: BatchSource, max_steps: int | None) -> "Runner":
    """Runs epochs over a source's tf.data batches: eager calls the step, graph wraps it (fused: the epoch loop too).

    `max_steps` bounds the whole run (for eager on large data): the epoch stops once it is spent.
    """
    spec = (tf.TensorSpec([None, source.n_inputs], tf.float32), tf.TensorSpec([None, 1], tf.float32))
    budget = {"left": max_steps}

    def take(epoch: int) -> tf.data.Dataset:
        data = source.batches(epoch)
        if budget["left"] is not None:
            n = min(budget["left"], source.steps_per_epoch)
            budget["left"] -= n
            data = data.take(n)
        return data

    if mode == "eager":
        def run_epoch(epoch: int) -> None:
            for xb, yb in take(epoch):
                step(xb, yb)
        return Runner(run_epoch)
    if variant == "fused":
        @tf.function(input_signature=[tf.data.DatasetSpec(spec)])
        def train_epoch(data: tf.data.Dataset) -> None:
            for xb, yb in data:
                step(xb, yb)
        return Runner(lambda epoch: train_epoch(take(epoch)),
                      lambda: train_epoch.get_concrete_function(), train_epoch.experimental_get_tracing_count)
    graph_step = tf.function(step, input_signature=spec, jit_compile=variant == "xla", reduce_retracing=True)

    def run_graph_epoch(epoch: int) -> None:
        for xb, yb in take(epoch):
            graph_step(xb, yb)

    return Runner(run_graph_epoch, lambda: graph_step.get_concrete_function(), graph_step.experimental_get_tracing_count)


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
    """Running sums of one epoch (loss × rows, correct predictions, rows) in ONE TensorFlow variable: a graph never
    syncs with Python per step, and one update op per step instead of three (a third of a small step's time)."""

    sums: tf.Variable = field(default_factory=lambda: tf.Variable(tf.zeros(3), trainable=False))

    def add(self, loss: tf.Tensor, correct: tf.Tensor, rows: tf.Tensor) -> None:
        self.sums.assign_add(tf.stack([loss * rows, correct, rows]))

    def reset(self) -> None:
        self.sums.assign(tf.zeros(3))

    def result(self) -> tuple[float, float]:
        loss, correct, rows = (float(v) for v in self.sums.numpy())
        rows = max(rows, 1.0)
        return loss / rows, correct / rows


INTER_OP_THREADS = 1  # measured: 0.25 → 0.12 ms a step at batch 32 on 2 cores; a tiny model's ops gain nothing in parallel


def configure_threads() -> None:
    """Run independent TensorFlow ops one at a time (inter-op threads), unless the user set TF_NUM_INTEROP_THREADS.

    For a model this small, handing ops between threads costs more than running them side by side saves. TensorFlow
    accepts the setting only before its runtime starts: call this first; later calls leave the runtime as it is.
    """
    if os.environ.get("TF_NUM_INTEROP_THREADS"):
        return
    try:
        tf.config.threading.set_inter_op_parallelism_threads(INTER_OP_THREADS)
    except RuntimeError:
        pass  # the runtime already started in this process; its threads stay as they are


def make_train_step(model: keras.Model, optimizer: keras.optimizers.Optimizer,
                    loss_fn: keras.losses.Loss, totals: Totals) -> Callable[[tf.Tensor, tf.Tensor], tf.Tensor]:
    """The one training-step body. Eager mode calls it as is; graph mode wraps it in tf.function."""

    def train_step(x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            probability = model(x, training=True)
            loss = loss_fn(y, probability)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        correct = tf.reduce_sum(tf.cast(tf.equal(probability > 0.5, y > 0.5), tf.float32))
        totals.add(loss, correct, tf.cast(tf.shape(x)[0], tf.float32))
        return loss

    return train_step


# ---------------------------------------------------------------- the two modes and the graph variants


@dataclass
class Runner:
    """Runs one epoch (given its row order in memory, its epoch number for a `BatchSource`); built fresh for every
    training run, so no tf.function is ever shared between models or optimizers."""

    run_epoch: Callable[[np.ndarray], None]
    trace: Callable[[], None] = lambda: None  # builds the graph up front, so tracing is timed apart
    tracing_count: Callable[[], int] = lambda: 0  # traces of every tf.function the runner built, summed


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


def fused_runner(step: Callable, x: tf.Tensor, y: tf.Tensor, batch_size: int, jit_compile: bool = False) -> Runner:
    """The whole epoch in one tf.function: data held as tensors, a tf.range loop gathers each batch.

    With jit_compile, XLA compiles the step inside the loop (one program per batch shape: full and partial).
    Compiling the whole epoch loop also works but ran about 10x slower per step on a 2-core CPU at 32,000 rows.
    """
    n_rows = int(x.shape[0])
    steps = -(-n_rows // batch_size)
    body = tf.function(step, jit_compile=True) if jit_compile else step

    @tf.function(input_signature=[tf.TensorSpec([None], tf.int32)])
    def train_epoch(order: tf.Tensor) -> None:
        for i in tf.range(steps):
            rows = order[i * batch_size:tf.minimum((i + 1) * batch_size, n_rows)]
            body(tf.gather(x, rows), tf.gather(y, rows))

    def tracing_count() -> int:
        inner = body.experimental_get_tracing_count() if jit_compile else 0
        return train_epoch.experimental_get_tracing_count() + inner

    return Runner(lambda order: train_epoch(tf.constant(order)), lambda: train_epoch.get_concrete_function(), tracing_count)


def make_runner(mode: Mode, variant: Variant, step: Callable, x: tf.Tensor, y: tf.Tensor, batch_size: int) -> Runner:
    if mode == "eager":
        return eager_runner(step, x, y, batch_size)
    if variant == "fused":
        return fused_runner(step, x, y, batch_size)
    if variant == "xla":
        return fused_runner(step, x, y, batch_size, jit_compile=True)
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
    steps: int = 0  # steps actually run; fewer than full_steps when training was bounded (eager on large data)
    full_steps: int = 0
    full_train_seconds: float = 0.0  # train_seconds, or its extrapolation to full_steps when bounded

    @property
    def bounded(self) -> bool:
        return self.steps < self.full_steps


def train(x: np.ndarray, y: np.ndarray, mode: Mode, variant: Variant, epochs: int, batch_size: int, hidden: int,
          learning_rate: float, seed: int, on_epoch: Callable[[dict], None] | None = None,
          max_steps: int | None = None) -> tuple[keras.Model, TrainResult]:
    """Train a fresh model in the given mode; the same arguments give the same batches and initial weights in every mode."""
    return train_from(InMemorySource(x, y, batch_size, seed), mode, variant, epochs, hidden, learning_rate, seed,
                      on_epoch, max_steps)


def train_from(source: BatchSource, mode: Mode, variant: Variant, epochs: int, hidden: int, learning_rate: float,
               seed: int, on_epoch: Callable[[dict], None] | None = None,
               max_steps: int | None = None) -> tuple[keras.Model, TrainResult]:
    """Train a fresh model on a batch source (in memory or streamed from Parquet), at most `max_steps` steps in all."""
    configure_threads()
    tf.config.experimental.enable_op_determinism()
    model = build_model(source.n_inputs, hidden, seed)
    optimizer = keras.optimizers.Adam(learning_rate)
    optimizer.build(model.trainable_variables)
    totals = Totals()
    step = make_train_step(model, optimizer, keras.losses.BinaryCrossentropy(), totals)
    steps = source.steps_per_epoch
    bounded = max_steps is not None and max_steps < steps * epochs
    if isinstance(source, InMemorySource) and not bounded:
        inner = make_runner(mode, variant, step, tf.constant(source.x), tf.constant(source.y), source.batch_size)
        runner = Runner(lambda epoch: inner.run_epoch(source.order(epoch)), inner.trace, inner.tracing_count)
    else:
        runner = source_runner(mode, variant, step, source, max_steps if bounded else None)
    started = time.perf_counter()
    runner.trace()
    trace_seconds = time.perf_counter() - started
    history, epoch_seconds = [], []
    done_steps = 0
    for epoch in range(epochs):
        epoch_steps = min(steps, max_steps - done_steps) if bounded else steps
        if epoch_steps <= 0:
            break
        totals.reset()
        epoch_started = time.perf_counter()
        runner.run_epoch(epoch)
        loss, accuracy = totals.result()  # reading the totals waits for the epoch's last step
        epoch_seconds.append(time.perf_counter() - epoch_started)
        done_steps += epoch_steps
        history.append({"epoch": epoch + 1, "loss": loss, "accuracy": accuracy, "seconds": epoch_seconds[-1],
                        "steps": epoch_steps})
        if on_epoch is not None:
            on_epoch(history[-1])
    total = time.perf_counter() - started
    step_ms = (total - trace_seconds) / max(done_steps, 1) * 1000.0 if bounded else float(np.median(epoch_seconds)) / steps * 1000.0
    result = TrainResult(mode, None if mode == "eager" else variant, history, total, trace_seconds, total - trace_seconds,
                         epoch_seconds, steps, step_ms, runner.tracing_count(), done_steps, steps * epochs,
                         trace_seconds + step_ms / 1000.0 * steps * epochs if bounded else total)
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
    write_json(path / "assets.extra" / MODEL_INFO, {"features": normalizer.features, "classes": normalizer.classes,
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


# ---------------------------------------------------------------- the stages


def train_to(run_dir: Path, mode: Mode, variant: Variant, epochs: int, batch_size: int, hidden: int,
             learning_rate: float, seed: int, on_epoch: Callable[[dict], None] | None = None,
             in_memory_rows: int = IN_MEMORY_ROWS, max_steps: int | None = None) -> dict:
    """Stage logic: train on features/train.parquet, export the SavedModel, save weights and history.

    Splits up to `in_memory_rows` rows train from tensors in memory; larger ones stream from Parquet through tf.data.
    """
    paths = RunPaths.of(run_dir)
    source = open_source(paths.features("train"), batch_size, seed, in_memory_rows)
    model, result = train_from(source, mode, variant, epochs, hidden, learning_rate, seed, on_epoch, max_steps)
    export_model(model, Normalizer.load(paths.normalizer), paths.model(mode))
    save_weights(model, paths.weights(mode))
    record = {**asdict(result), "bounded": result.bounded, "streamed": not isinstance(source, InMemorySource)}
    write_json(paths.history(mode), record)
    return {"model": str(paths.model(mode)), "history": str(paths.history(mode)), "weights": str(paths.weights(mode)),
            **{k: v for k, v in record.items() if k not in ("history", "epoch_seconds")},
            "final_loss": result.history[-1]["loss"], "final_accuracy": result.history[-1]["accuracy"]}

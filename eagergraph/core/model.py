"""The model, the epoch totals and the one training-step body that every mode and variant runs."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

import keras
import tensorflow as tf

from eagergraph.metrics import DEFAULT_TASK

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


# The head of each task: (units, activation, layer name); the layer name is also the SavedModel's output name.
HEADS = {"binary": (1, "sigmoid", "probability"), "multiclass": (None, "softmax", "probabilities"),
         "regression": (1, "linear", "value")}


def build_model(n_inputs: int, hidden: int, seed: int, task: str = DEFAULT_TASK, n_classes: int = 2) -> keras.Model:
    """Input → Dense(hidden, ReLU) → the task's head, with seeded initializers: every build has equal weights.

    Heads: binary Dense(1, sigmoid), multiclass Dense(n_classes, softmax), regression Dense(1, linear) (the
    standardized target; the SavedModel turns it back into the target's units)."""
    units, activation, name = HEADS[task]
    inputs = keras.Input((n_inputs,), name="features")
    h = keras.layers.Dense(hidden, activation="relu", name="hidden",
                           kernel_initializer=keras.initializers.GlorotUniform(seed=seed))(inputs)
    out = keras.layers.Dense(units or n_classes, activation=activation, name=name,
                             kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 1))(h)
    return keras.Model(inputs, out, name="eagergraph_mlp")


def row_losses(task: str, y: tf.Tensor, output: tf.Tensor) -> tf.Tensor:
    """Each row's loss [rows]: binary and sparse categorical cross-entropy (y holds class codes as float32 [rows, 1]),
    squared error of the standardized target for regression."""
    if task == "multiclass":
        return keras.losses.sparse_categorical_crossentropy(y, output)
    if task == "regression":
        return tf.square(y - output)[:, 0]
    return keras.losses.binary_crossentropy(y, output)


def row_hits(task: str, y: tf.Tensor, output: tf.Tensor) -> tf.Tensor:
    """1.0 for each row predicted right [rows] (the epoch totals' accuracy); regression has no accuracy: zeros."""
    if task == "multiclass":
        return tf.cast(tf.equal(tf.argmax(output, axis=1), tf.cast(y[:, 0], tf.int64)), tf.float32)
    if task == "regression":
        return tf.zeros_like(y[:, 0])
    return tf.cast(tf.equal(output > 0.5, y > 0.5), tf.float32)[:, 0]


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
        """Mean loss and accuracy so far; reading the variable waits for every step launched before."""
        loss, correct, rows = (float(v) for v in self.sums.numpy())
        rows = max(rows, 1.0)
        return loss / rows, correct / rows


BatchStep = Callable[[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor], tf.Tensor]


def make_train_step(model: keras.Model, optimizer: keras.optimizers.Optimizer, totals: Totals,
                    task: str = DEFAULT_TASK) -> BatchStep:
    """The one training-step body: gather a batch's rows, then forward, loss, gradients, Adam, totals.

    Eager mode calls it as is; every graph variant wraps it (or a loop over it) in tf.function. The batch is
    `x[rows]`; only its first `count` rows are real: a compiled loop pads the epoch's partial last batch to the
    static batch shape, and the loss is the mean over the real rows, so it trains exactly as the unpadded batch.
    The task only picks the loss and the hit count (`row_losses`, `row_hits`); the body is the same for all.
    """

    def train_step(x: tf.Tensor, y: tf.Tensor, rows: tf.Tensor, count: tf.Tensor) -> tf.Tensor:
        xb, yb = tf.gather(x, rows), tf.gather(y, rows)
        real = tf.cast(tf.range(tf.shape(rows)[0]) < count, tf.float32)  # 1 for a real row, 0 for padding
        n = tf.cast(count, tf.float32)
        with tf.GradientTape() as tape:
            output = model(xb, training=True)
            loss = tf.reduce_sum(row_losses(task, yb, output) * real) / n
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        totals.add(loss, tf.reduce_sum(row_hits(task, yb, output) * real), n)
        return loss

    return train_step

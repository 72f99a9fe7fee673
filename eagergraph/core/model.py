"""The model, the epoch totals and the one training-step body that every mode and variant runs."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

import keras
import tensorflow as tf

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
        """Mean loss and accuracy so far; reading the variable waits for every step launched before."""
        loss, correct, rows = (float(v) for v in self.sums.numpy())
        rows = max(rows, 1.0)
        return loss / rows, correct / rows


BatchStep = Callable[[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor], tf.Tensor]


def make_train_step(model: keras.Model, optimizer: keras.optimizers.Optimizer, totals: Totals) -> BatchStep:
    """The one training-step body: gather a batch's rows, then forward, loss, gradients, Adam, totals.

    Eager mode calls it as is; every graph variant wraps it (or a loop over it) in tf.function. The batch is
    `x[rows]`; only its first `count` rows are real: a compiled loop pads the epoch's partial last batch to the
    static batch shape, and the loss is the mean over the real rows, so it trains exactly as the unpadded batch.
    """

    def train_step(x: tf.Tensor, y: tf.Tensor, rows: tf.Tensor, count: tf.Tensor) -> tf.Tensor:
        xb, yb = tf.gather(x, rows), tf.gather(y, rows)
        real = tf.cast(tf.range(tf.shape(rows)[0]) < count, tf.float32)  # 1 for a real row, 0 for padding
        n = tf.cast(count, tf.float32)
        with tf.GradientTape() as tape:
            probability = model(xb, training=True)
            loss = tf.reduce_sum(keras.losses.binary_crossentropy(yb, probability) * real) / n
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        hits = tf.cast(tf.equal(probability > 0.5, yb > 0.5), tf.float32)[:, 0]
        totals.add(loss, tf.reduce_sum(hits * real), n)
        return loss

    return train_step

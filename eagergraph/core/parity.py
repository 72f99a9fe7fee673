"""Eager vs graph parity, told honestly: two figures, because they answer two questions.

- Step parity: from one state (weights, Adam moments, iteration count) and one batch, one training step eagerly
  and one in each graph variant's runner; the largest difference of the resulting weights. It shows whether the
  two modes execute the same computation (expected at float rounding, ≤ STEP_TOLERANCE).
- Run parity: the largest difference of the final weights and test predictions, and the first epoch whose
  end-of-epoch weights differ by more than RUN_TOLERANCE. Two correct executions round differently (XLA and
  grappler fuse and reorder float operations); over thousands of steps those differences can grow, so a long run
  may drift apart although every step computes the same thing. The parity note says so in one line.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import closing
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from eagergraph.core.model import Totals, build_model, make_train_step
from eagergraph.core.runners import make_runner
from eagergraph.core.sources import BatchSource, Block
from eagergraph.core.variants import VARIANTS, Variant
from eagergraph.rundir.paths import RunPaths

STEP_TOLERANCE = 1e-6  # one step from one state: float rounding only
RUN_TOLERANCE = 1e-4  # whole runs: beyond this the trajectories are said to have drifted apart
EPOCH_WEIGHTS_KEY = "weights"  # [epochs, parameters] float32 in the snapshot file

State = tuple[list[np.ndarray], list[np.ndarray]]  # model weights, optimizer variables


def flat_weights(model: keras.Model) -> np.ndarray:
    """Every weight of the model in one float32 vector (the model is small: a few hundred to a few thousand values)."""
    return np.concatenate([np.asarray(w.numpy(), np.float32).reshape(-1) for w in model.weights])


def training_state(model: keras.Model, optimizer: keras.optimizers.Optimizer) -> State:
    """A copy of what one training step reads: the weights and the optimizer's variables (moments, iteration)."""
    return [w.numpy() for w in model.weights], [v.numpy() for v in optimizer.variables]


def first_batch(source: BatchSource) -> Block:
    """The run's real first batch (epoch 0, batch 0), as a block of exactly one full-shape batch."""
    with closing(source.blocks(0)) as blocks:
        block = next(iter(blocks))
    rows = block.rows(0)
    count = len(rows)
    return Block(tf.gather(block.x, rows), tf.gather(block.y, rows), np.arange(count, dtype=np.int32).reshape(1, -1),
                 np.array([count], np.int32), 1)


def one_step(state: State, batch: Block, hidden: int, learning_rate: float, seed: int,
              variant: Variant | None) -> np.ndarray:
    """Weights after one step from `state` on `batch`: eagerly (variant None) or through the variant's runner."""
    weights, optimizer_variables = state
    model = build_model(int(batch.x.shape[1]), hidden, seed)
    optimizer = keras.optimizers.Adam(learning_rate)
    optimizer.build(model.trainable_variables)
    for target, value in zip(model.weights, weights, strict=True):
        target.assign(value)
    for target, value in zip(optimizer.variables, optimizer_variables, strict=True):
        target.assign(value)
    step = make_train_step(model, optimizer, Totals())
    runner = make_runner("eager" if variant is None else "graph", variant or "step", step, batch)
    runner.warm_up(batch)  # a compiled loop traces with no step run: the state stays as copied
    runner.run_block(batch, 1)
    return flat_weights(model)


def step_parity(state: State, batch: Block, hidden: int, learning_rate: float, seed: int,
                variants: Iterable[Variant] = VARIANTS) -> dict[str, float]:
    """Largest |eager − graph| of the weights after one step from the same state and batch, per graph variant.

    Take `state` from a trained model rather than a fresh one: Adam's first step from zero moments is about
    lr·sign(gradient), which would hide a difference in the gradients; later steps scale with their magnitude.
    """
    eager = one_step(state, batch, hidden, learning_rate, seed, None)
    return {variant: float(np.max(np.abs(one_step(state, batch, hidden, learning_rate, seed, variant) - eager)))
            for variant in variants}


def epoch_weights_file(paths: RunPaths, mode: str) -> Path:
    """Where a mode's end-of-epoch weight snapshots lie: beside its final weights."""
    weights = paths.weights(mode)
    return weights.with_name(f"{mode}_epoch_weights.npz")


def save_epoch_weights(paths: RunPaths, mode: str, snapshots: list[np.ndarray]) -> Path:
    """The end-of-epoch snapshots as one [epochs, parameters] array, so evaluate can find where modes drifted."""
    path = epoch_weights_file(paths, mode)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **{EPOCH_WEIGHTS_KEY: np.stack(snapshots) if snapshots else np.zeros((0, 0), np.float32)})
    return path


def load_epoch_weights(paths: RunPaths, mode: str) -> np.ndarray | None:
    """A mode's snapshots, or None when the run has none (a run written before they were kept)."""
    path = epoch_weights_file(paths, mode)
    if not path.is_file():
        return None
    with np.load(path) as snapshots:
        return snapshots[EPOCH_WEIGHTS_KEY]


def epoch_differences(eager: np.ndarray, graph: np.ndarray) -> list[float]:
    """Largest |eager − graph| of the weights at the end of each epoch both modes ran."""
    epochs = min(len(eager), len(graph))
    return [float(np.max(np.abs(eager[e] - graph[e]))) for e in range(epochs)]


def drift_epoch(differences: list[float], tolerance: float = RUN_TOLERANCE) -> int | None:
    """The first epoch (1-based) whose weights differ by more than `tolerance`; None if none does."""
    return next((epoch for epoch, diff in enumerate(differences, start=1) if diff > tolerance), None)


def parity_note(weights_diff: float | None, predictions_diff: float | None, drifted_at: int | None, last_epoch: int,
                step_diff: float | None, tolerance: float = RUN_TOLERANCE) -> str | None:
    """The one plain line a run prints when run parity exceeds `tolerance`; None when the modes agree.

    Predictions are compared only after the last epoch: when they alone exceed the tolerance, that epoch is named.
    """
    figures = [d for d in (weights_diff, predictions_diff) if d is not None]
    if not figures or max(figures) <= tolerance:
        return None
    epoch = drifted_at if drifted_at is not None else last_epoch
    differ = f"weights differ by {weights_diff:.1e}" if weights_diff is not None else "weights not compared"
    if predictions_diff is not None and predictions_diff > tolerance and (weights_diff or 0.0) <= tolerance:
        differ += f", test predictions by {predictions_diff:.1e}"
    if step_diff is None:
        step = "step parity was not measured, so this run cannot show whether the computation is the same"
    elif step_diff <= STEP_TOLERANCE:
        step = f"step parity {step_diff:.1e} shows the computation is the same"
    else:
        step = f"step parity {step_diff:.1e} is above {STEP_TOLERANCE:.0e}: one step already differs"
    return f"eager and graph drifted apart after epoch {epoch} ({differ}); {step}; rounding differences grow over long runs"

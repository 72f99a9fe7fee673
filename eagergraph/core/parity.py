"""Eager vs graph parity, told honestly: two figures, because they answer two questions.

- Step parity: from one state (weights, Adam moments, iteration count) and one batch, one training step eagerly
  and one through the graph variant's runner; the largest difference of the resulting weights. It shows whether
  the two modes execute the same computation (expected at float rounding, ≤ STEP_TOLERANCE). A graph run measures
  it for its own variant from its trained state on its first batch; the tests measure it for every variant.
- Run parity: the largest difference of the final weights and test predictions, and the first epoch whose
  end-of-epoch weights differ by more than RUN_TOLERANCE. Two correct executions round differently (XLA and
  grappler fuse and reorder float operations); over thousands of steps those differences can grow, so a long run
  may drift apart although every step computes the same thing. The parity note says so in one line.
- Stop epochs: each mode's kept (best) and last epoch. Both make one early-stopping decision on losses that agree to
  rounding (core.stopping), so they match; when a loss sits within rounding of the decision's boundary they can
  differ, and the note says so (the models then hold different epochs' weights, and run parity compares those).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import keras
import numpy as np

from eagergraph.core.model import BatchStep
from eagergraph.core.runners import Runner
from eagergraph.core.sources import BatchSource, Block
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


def restore_state(model: keras.Model, optimizer: keras.optimizers.Optimizer, state: State) -> None:
    """Put a copied state back, exactly."""
    weights, optimizer_variables = state
    for target, value in zip(model.weights, weights, strict=True):
        target.assign(value)
    for target, value in zip(optimizer.variables, optimizer_variables, strict=True):
        target.assign(value)


def first_block(source: BatchSource) -> Block:
    """The run's real first block (epoch 0), whose first batch is the run's first batch."""
    with closing(source.blocks(0)) as blocks:
        return next(iter(blocks))


def step_parity(model: keras.Model, optimizer: keras.optimizers.Optimizer, step: BatchStep, block: Block,
                runner: Runner) -> float:
    """Largest |eager − graph| of the weights after one step from the model's current state on `block`'s first
    batch: the step body called directly (eager) against the graph variant's runner on that one batch. The model
    and the optimizer are left exactly as they were.

    Pass the runner the run trained with: it is already traced and compiled for the run's blocks, so the figure
    costs two steps and no tracing. Call it on a trained state: Adam's first step from zero moments is about
    lr·sign(gradient), which would hide a difference in the gradients; later steps scale with their magnitude.
    """
    state = training_state(model, optimizer)

    def weights_after(run: Callable[[], None]) -> np.ndarray:
        restore_state(model, optimizer, state)
        run()
        return flat_weights(model)

    eager = weights_after(lambda: step(block.x, block.y, block.rows(0), block.counts[0]))
    graph = weights_after(lambda: runner.run_block(block, 1))
    restore_state(model, optimizer, state)
    return float(np.max(np.abs(graph - eager)))


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


def stop_note(eager: list[int | None], graph: list[int | None]) -> str | None:
    """The one line said when the modes kept or stopped at different epochs (`[best_epoch, stopped_epoch]` each);
    None when they agree or a mode did not record them."""
    if None in eager or None in graph or eager == graph:
        return None
    return (f"eager and graph stopped differently (eager kept epoch {eager[0]} of {eager[1]}, graph kept epoch "
            f"{graph[0]} of {graph[1]}): their validation losses sat within rounding of the early-stopping "
            "threshold, so the models hold different epochs' weights")

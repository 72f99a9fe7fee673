"""Stages 4 and 5, train-eager and train-graph: one step body, run eagerly or inside tf.function.

Both modes start from the same seeded initial weights and see the same batches in the same order, so the
trained weights agree to float tolerance and any difference in speed is the execution mode alone. After every
epoch both modes make the same stopping decision (`core.stopping`): early stopping on the validation loss with the
best epoch's weights restored, and an immediate stop when the loss diverges.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path

import keras
import numpy as np

from eagergraph.core.export import save_trained
from eagergraph.core.model import Totals, build_model, make_train_step, row_losses
from eagergraph.core.parity import first_block, flat_weights, save_epoch_weights, step_parity
from eagergraph.core.runners import Runner, make_runner, run_epoch
from eagergraph.core.runtime import start_tensorflow
from eagergraph.core.sources import (
    BatchSource,
    Block,
    InMemorySource,
    StreamedValidation,
    Validation,
    load_validation,
    open_source,
)
from eagergraph.core.stopping import Stopping
from eagergraph.core.variants import GraphVariant, Mode, choose_variant
from eagergraph.data.normalize import Normalizer
from eagergraph.errors import ConfigError
from eagergraph.metrics import DEFAULT_TASK
from eagergraph.rundir.paths import RunPaths


@dataclass
class TrainResult:
    """What one training run reports; becomes `<mode>_history.json` and part of metrics.json."""

    mode: str
    variant: str | None
    variant_reason: str
    history: list[dict]
    train_seconds: float
    trace_seconds: float  # tracing, graph optimization and XLA compilation, timed before the first epoch
    steady_seconds: float
    epoch_seconds: list[float]
    steps_per_epoch: int
    median_step_ms: float
    tracing_count: int
    steps: int = 0  # steps actually run; fewer than full_steps when training was bounded (eager on large data)
    full_steps: int = 0
    full_train_seconds: float = 0.0  # train_seconds, or its extrapolation to full_steps when bounded
    step_parity: float | None = None  # graph mode: one step's max |eager − graph| of the weights (core.parity)
    best_epoch: int = 0  # the epoch whose weights the model holds (1-based)
    stopped_epoch: int = 0  # the last epoch run
    stop_reason: str | None = None  # why training ended before its maximum epochs (None: it ran them all)
    monitor: str = "loss"  # what early stopping watched: val_loss with a validation split, else the training loss
    epoch_weights: list[np.ndarray] = field(default_factory=list, repr=False)  # every weight, after each epoch

    @property
    def bounded(self) -> bool:
        return self.steps < self.full_steps


def train(x: np.ndarray, y: np.ndarray, mode: Mode, variant: GraphVariant, epochs: int, batch_size: int, hidden: int,
          learning_rate: float, seed: int, on_epoch: Callable[[dict], None] | None = None,
          max_steps: int | None = None, measure_step_parity: bool = False, task: str = DEFAULT_TASK,
          n_classes: int = 2, validation: Validation | StreamedValidation | None = None,
          patience: int | None = None) -> tuple[keras.Model, TrainResult]:
    """Train a fresh model on arrays in memory; the same arguments give the same batches and weights in every mode."""
    return train_from(InMemorySource(x, y, batch_size, seed), mode, variant, epochs, hidden, learning_rate, seed,
                      on_epoch, max_steps, measure_step_parity, task, n_classes, validation, patience)


VALIDATION_BLOCK_ROWS = 65_536  # rows per forward pass of the validation loss: memory stays bounded


def validation_loss(model: keras.Model, validation: Validation | StreamedValidation, task: str) -> float:
    """The mean loss of the model on the validation rows, computed by this one function for both modes (a plain
    forward pass in blocks, summed in float64), so the modes' figures differ only as their weights do."""
    total = 0.0
    for x, y in validation.blocks(VALIDATION_BLOCK_ROWS):
        total += float(np.sum(row_losses(task, y, model(x, training=False)).numpy(), dtype=np.float64))
    return total / max(validation.n_rows, 1)


def _epochs(runner: Runner, source: BatchSource, first: Iterator[Block], totals: Totals, epochs: int,
            max_steps: int | None, on_epoch: Callable[[dict], None] | None,
            judge: Callable[[dict], bool] = lambda entry: False, task: str = DEFAULT_TASK) -> list[dict]:
    """Run the epochs (the first one's blocks already reading), at most `max_steps` steps in all; one history
    entry per epoch that ran a step, which `judge` completes (the validation loss) and which says whether to stop.
    A regression entry has the loss only (the mean squared error of the standardized target): accuracy means
    nothing there."""
    history: list[dict] = []
    left = math.inf if max_steps is None else max_steps
    for epoch in range(epochs):
        if left <= 0:
            break
        totals.reset()
        started = time.perf_counter()
        steps = run_epoch(runner, first if epoch == 0 else source.blocks(epoch), left)
        loss, accuracy = totals.result()  # reading the totals waits for the epoch's last step
        entry = {"epoch": epoch + 1, "loss": loss, "accuracy": accuracy, "seconds": time.perf_counter() - started, "steps": steps}
        if task == "regression":
            del entry["accuracy"]
        history.append(entry)
        left -= steps
        stop = judge(entry)
        if on_epoch is not None:
            on_epoch(history[-1])
        if stop:
            break
    return history


class _Judge:
    """After each epoch: the validation loss, the end-of-epoch weights (run parity), the stopping decision, and
    a copy of the best epoch's weights, which `restore` puts back."""

    def __init__(self, model: keras.Model, validation: Validation | StreamedValidation | None, patience: int | None,
                 task: str) -> None:
        self.model, self.validation, self.task = model, validation, task
        self.stopping = Stopping(patience or math.inf)
        self.snapshots: list[np.ndarray] = []
        self.best: list[np.ndarray] | None = None

    def __call__(self, entry: dict) -> bool:
        weights = flat_weights(self.model)
        self.snapshots.append(weights)
        monitored = entry["loss"]
        if self.validation is not None:
            entry["val_loss"] = monitored = validation_loss(self.model, self.validation, self.task)
        stop = self.stopping.update(entry["epoch"], entry["loss"], monitored, bool(np.all(np.isfinite(weights))))
        if self.stopping.best_epoch == entry["epoch"]:
            self.best = [w.numpy().copy() for w in self.model.weights]
        return stop is not None

    def restore(self, learning_rate: float) -> None:
        """Put the best epoch's weights back; a ConfigError naming --learning-rate when no epoch ended finite."""
        if self.best is None:
            raise ConfigError(f"training {self.stopping.reason or 'diverged'} and no epoch ended with finite weights: "
                              f"lower --learning-rate (now {learning_rate:g}); nothing was exported")
        for target, value in zip(self.model.weights, self.best, strict=True):
            target.assign(value)


def train_from(source: BatchSource, mode: Mode, variant: GraphVariant, epochs: int, hidden: int, learning_rate: float,
               seed: int, on_epoch: Callable[[dict], None] | None = None,
               max_steps: int | None = None, measure_step_parity: bool = False, task: str = DEFAULT_TASK,
               n_classes: int = 2, validation: Validation | StreamedValidation | None = None,
               patience: int | None = None) -> tuple[keras.Model, TrainResult]:
    """Train a fresh model of the task's head on a batch source (in memory or streamed from Parquet), at most `max_steps` steps in all.

    After each epoch (`core.stopping`): training stops once the monitored loss (the `validation` rows' loss, else
    the training loss) has not improved for `patience` epochs (None: never early), and at once when the loss is not
    finite or far above its best; the model then holds the best epoch's weights. A ConfigError naming
    --learning-rate when no epoch ended finite.

    Graph mode runs `variant`; `auto` picks the variant fastest in total time for this run's number of steps.
    The weights are kept after every epoch (the run-parity check); with `measure_step_parity`, a graph run also
    measures step parity of its variant from its trained state on its first batch (after the timing; the trained
    weights stay as they are).
    """
    start_tensorflow()  # threads and op determinism, set in one place (idempotent)
    full_steps = source.steps_per_epoch * epochs
    ran, reason = choose_variant(variant, full_steps) if mode == "graph" else (None, "eager mode has no variant")
    model = build_model(source.n_inputs, hidden, seed, task, n_classes)
    optimizer = keras.optimizers.Adam(learning_rate)
    optimizer.build(model.trainable_variables)
    totals = Totals()
    template = source.template()
    step = make_train_step(model, optimizer, totals, task)
    runner = make_runner(mode, ran, step, template)
    started = time.perf_counter()
    first = source.blocks(0)  # a stream starts reading now, while the runner traces and compiles
    runner.warm_up(template)
    trace_seconds = time.perf_counter() - started
    judge = _Judge(model, validation, patience, task)
    history = _epochs(runner, source, first, totals, epochs, max_steps, on_epoch, judge, task)
    total = time.perf_counter() - started
    judge.restore(learning_rate)
    if judge.stopping.reason is not None:  # stopped by the rule, not bounded: the run is the epochs it ran
        full_steps = sum(entry["steps"] for entry in history)
    result = _result(mode, ran, reason, history, total, trace_seconds, source.steps_per_epoch, full_steps,
                     runner.tracing_count())
    result.epoch_weights = judge.snapshots
    result.best_epoch, result.stopped_epoch = judge.stopping.best_epoch, len(history)
    result.stop_reason, result.monitor = judge.stopping.reason, "val_loss" if validation is not None else "loss"
    if measure_step_parity and mode == "graph":
        result.step_parity = step_parity(model, optimizer, step, first_block(source), runner)
    return model, result


def _result(mode: str, variant: str | None, reason: str, history: list[dict], total: float, trace_seconds: float,
            steps_per_epoch: int, full_steps: int, tracing_count: int) -> TrainResult:
    """The run's figures; a bounded run's step time is its measured mean, extrapolated to the full run (the one
    extrapolation: the benchmark reads it from here)."""
    steps = sum(h["steps"] for h in history)
    epoch_seconds = [h["seconds"] for h in history]
    if steps < full_steps:
        step_seconds = (total - trace_seconds) / max(steps, 1)
        full_total = trace_seconds + step_seconds * full_steps
    else:
        step_seconds, full_total = float(np.median(epoch_seconds)) / steps_per_epoch, total
    return TrainResult(mode, variant, reason, history, total, trace_seconds, total - trace_seconds, epoch_seconds,
                       steps_per_epoch, step_seconds * 1000.0, tracing_count, steps, full_steps, full_total)


def train_to(run_dir: Path, mode: Mode, variant: GraphVariant, epochs: int, batch_size: int, hidden: int,
             learning_rate: float, seed: int, in_memory_rows: int, on_epoch: Callable[[dict], None] | None = None,
             max_steps: int | None = None, out: RunPaths | None = None, patience: int | None = None) -> dict:
    """Stage logic: train on features/train.parquet, then export the SavedModel, weights and history to `out`
    (the run's own models by default; a sweep candidate's folder for the sweep). The result holds the history
    too, so no caller reads back the file just written.

    Splits up to `in_memory_rows` rows train from tensors in memory; larger ones stream from Parquet. Where the
    run has a validation feature file, early stopping watches its loss; otherwise the training loss.
    """
    paths = RunPaths.of(run_dir)
    source = open_source(paths.features("train"), batch_size, seed, in_memory_rows)
    normalizer = Normalizer.load(paths.normalizer)
    model, result = train_from(source, mode, variant, epochs, hidden, learning_rate, seed, on_epoch, max_steps,
                               measure_step_parity=True, task=normalizer.task, n_classes=len(normalizer.classes),
                               validation=load_validation(paths.features("validation"), in_memory_rows),
                               patience=patience)
    kept = {f.name: getattr(result, f.name) for f in fields(result) if f.name != "epoch_weights"}  # saved apart, as .npz
    record = {**kept, "bounded": result.bounded, "streamed": not isinstance(source, InMemorySource),
              "train_rows": source.n_rows}
    files = save_trained(out or paths, mode, model, normalizer, record)
    files["epoch_weights"] = str(save_epoch_weights(out or paths, mode, result.epoch_weights))
    return {**{name: paths.rel(Path(file)) for name, file in files.items()},
            **{k: v for k, v in record.items() if k != "epoch_seconds"},
            "final_loss": result.history[-1]["loss"], "final_accuracy": result.history[-1].get("accuracy")}

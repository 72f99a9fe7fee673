"""Watching a training while it runs, and its curves afterwards: TensorBoard events, the Prefect progress
artifact, bounded per-epoch log lines, and the PNG of both modes' training curves."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from eagergraph.modes import MODES
from eagergraph.rundir.paths import RunPaths

MAX_EPOCH_LINES = 20  # per training: a 1000-epoch run logs every 50th epoch, not 1000 lines
PROGRESS_EVERY_SECONDS = 2.0  # progress artifact updates cost an API call; short epochs share one


def logged_epochs(epochs: int, max_lines: int = MAX_EPOCH_LINES) -> Callable[[int], bool]:
    """Which epochs (1-based) get a log line: the first, the last, and evenly spaced ones, at most `max_lines`."""
    every = max(1, math.ceil(epochs / max(max_lines - 2, 1)))  # the first and the last come on top
    return lambda epoch: epoch == 1 or epoch == epochs or epoch % every == 0


class EpochMonitor:
    """The `on_epoch` callback of one training: TensorBoard scalars, progress artifact, bounded log lines.

    It runs between epochs, outside the timed step loop's steps, and keeps its own work small there: summary
    writes are buffered by TensorBoard's writer and the progress artifact is updated at most every few seconds.
    """

    def __init__(self, run_dir: str | Path, mode: str, epochs: int, log: Callable[[str], None],
                 progress: Callable[[float], None] | None = None) -> None:
        import tensorflow as tf

        self.mode, self.epochs, self.log, self.progress = mode, epochs, log, progress
        self.writer = tf.summary.create_file_writer(str(RunPaths.of(run_dir).tensorboard(mode)))
        self.should_log = logged_epochs(epochs)
        self.last_progress = time.monotonic()

    def __call__(self, entry: dict[str, Any]) -> None:
        import tensorflow as tf

        epoch = entry["epoch"]
        with self.writer.as_default(step=epoch):
            tf.summary.scalar("epoch_loss", entry["loss"])
            if "accuracy" in entry:  # a regression's history has the loss only
                tf.summary.scalar("epoch_accuracy", entry["accuracy"])
        if self.should_log(epoch):
            accuracy = f"accuracy {entry['accuracy']:.4f} " if "accuracy" in entry else ""
            self.log(f"{self.mode} epoch {epoch}/{self.epochs}: loss {entry['loss']:.4f} {accuracy}({entry['seconds']:.2f}s)")
        if self.progress is not None and epoch < self.epochs and time.monotonic() - self.last_progress >= PROGRESS_EVERY_SECONDS:
            self.progress(100.0 * epoch / self.epochs)
            self.last_progress = time.monotonic()

    def close(self) -> None:
        self.writer.flush()
        self.writer.close()
        if self.progress is not None:
            self.progress(100.0)


def plot_training_curves(run_dir: str | Path, report: dict[str, Any]) -> Path:
    """training_curves.png: the evaluation artifact's chart of loss and accuracy per epoch, eager vs graph, from
    the evaluation's report (which holds both histories), at a resolution for reading on disk."""
    from eagergraph.reporting.charts import training_curves_png

    histories = {mode: report[mode]["history"] for mode in MODES if mode in report}
    path = RunPaths.of(run_dir).training_curves
    path.write_bytes(training_curves_png(histories, report.get("graph_variant"), dpi=110))
    return path


@contextmanager
def watched_training(run_dir: str | Path, mode: str, epochs: int, log: Callable[[str], None]) -> Iterator[EpochMonitor]:
    """An EpochMonitor whose progress goes to a Prefect progress artifact for this mode (created at 0 %, set to
    100 % when the training ends, however it ends); call it inside a task."""
    from prefect.artifacts import create_progress_artifact, update_progress_artifact

    from eagergraph.reporting.artifacts import artifact_key

    progress = create_progress_artifact(0.0, key=artifact_key("training-progress", mode),
                                        description=f"Epochs of the {mode} training done, in percent.")
    monitor = EpochMonitor(run_dir, mode, epochs, log, lambda percent: update_progress_artifact(progress, percent))
    try:
        yield monitor
    finally:
        monitor.close()

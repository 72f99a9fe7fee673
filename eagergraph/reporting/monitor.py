"""Watching a training while it runs, and its curves afterwards: TensorBoard events, the Prefect progress
artifact, bounded per-epoch log lines, and the PNG of both modes' training curves."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from eagergraph.core.variants import MODES
from eagergraph.data.io import read_json
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
            tf.summary.scalar("epoch_accuracy", entry["accuracy"])
        if self.should_log(epoch):
            self.log(f"{self.mode} epoch {epoch}/{self.epochs}: loss {entry['loss']:.4f} "
                     f"accuracy {entry['accuracy']:.4f} ({entry['seconds']:.2f}s)")
        if self.progress is not None and epoch < self.epochs and time.monotonic() - self.last_progress >= PROGRESS_EVERY_SECONDS:
            self.progress(100.0 * epoch / self.epochs)
            self.last_progress = time.monotonic()

    def close(self) -> None:
        self.writer.flush()
        self.writer.close()
        if self.progress is not None:
            self.progress(100.0)


def plot_training_curves(run_dir: str | Path, modes: tuple[str, ...] = MODES) -> Path:
    """training_curves.png: loss and accuracy per epoch, eager vs graph, from the saved histories."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on servers and CI
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    paths = RunPaths.of(run_dir)
    figure, (loss_axis, accuracy_axis) = plt.subplots(1, 2, figsize=(10, 4), dpi=100)
    styles = {"eager": {"marker": "o", "linestyle": "-"}, "graph": {"marker": "x", "linestyle": "--"}}
    for mode in modes:
        history = read_json(paths.history(mode))
        epochs = [e["epoch"] for e in history["history"]]
        label = mode if mode == "eager" else f"{mode} ({history.get('variant')})"
        loss_axis.plot(epochs, [e["loss"] for e in history["history"]], label=label, **styles.get(mode, {}))
        accuracy_axis.plot(epochs, [e["accuracy"] for e in history["history"]], label=label, **styles.get(mode, {}))
    for axis, title in ((loss_axis, "training loss"), (accuracy_axis, "training accuracy")):
        axis.set_title(title)
        axis.set_xlabel("epoch")
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.grid(True, alpha=0.3)
        axis.legend()
    figure.suptitle("eager vs graph: the same training, per epoch")
    figure.tight_layout()
    figure.savefig(paths.training_curves)
    plt.close(figure)
    return paths.training_curves

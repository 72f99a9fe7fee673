"""Early stopping and divergence in both modes: the same stop epoch, the best epoch's weights in the SavedModel
reloaded from disk, and a diverging run stopped at once with its best weights kept."""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from rich.console import Console

from eagergraph.core.evaluation import evaluate_run
from eagergraph.core.export import load_serving
from eagergraph.core.parity import load_epoch_weights, stop_note
from eagergraph.core.sources import Block, InMemorySource, StreamedValidation, Validation, load_validation
from eagergraph.core.training import train_from, train_to, validation_loss
from eagergraph.data.ingest import ingest_to
from eagergraph.errors import ConfigError
from eagergraph.io import read_json
from eagergraph.reporting.terminal import print_run
from eagergraph.rundir.paths import RunPaths
from runs import engineer_run, normalize_run

MAX_EPOCHS = 60


def _noisy(path: Path, n: int = 240) -> Path:
    """A small binary table with noisy labels: a wide network over-fits it within a few dozen epochs."""
    rng = np.random.default_rng(7)
    x = rng.normal(size=(n, 6))
    label = (x[:, 0] + rng.normal(0, 1.5, n) > 0).astype(int)
    pacsv.write_csv(pa.table({**{f"f{i}": x[:, i] for i in range(6)}, "label": label}), path)
    return path


@pytest.fixture(scope="module")
def stopped(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One run directory, both modes trained by the stage logic with a validation feature file made here (the
    engineered test rows copied: the same columns a validation split has)."""
    run = tmp_path_factory.mktemp("stopped")
    ingest_to(RunPaths.of(run).raw, _noisy(run / "noisy.csv"), "label", None, 0, 0, 0)
    normalize_run(run, 0.3, 3)
    engineer_run(run)
    paths = RunPaths.of(run)
    shutil.copy(paths.features("test"), paths.features("validation"))
    for mode in ("eager", "graph"):
        train_to(run, mode, "xla", epochs=MAX_EPOCHS, batch_size=16, hidden=64, learning_rate=0.003, seed=1,
                 in_memory_rows=10**6, patience=4)
    return run


def test_both_modes_stop_at_the_same_epoch_on_the_validation_loss(stopped: Path) -> None:
    paths = RunPaths.of(stopped)
    eager, graph = (read_json(paths.history(mode)) for mode in ("eager", "graph"))
    for record in (eager, graph):
        val = [entry["val_loss"] for entry in record["history"]]
        assert record["monitor"] == "val_loss" and len(val) == record["stopped_epoch"] < MAX_EPOCHS
        assert record["stop_reason"] == "no improvement for 4 epochs"
        assert record["stopped_epoch"] == record["best_epoch"] + 4
        assert val[record["best_epoch"] - 1] == min(val)  # the kept epoch has the lowest validation loss
        assert record["history"][-1]["loss"] < record["history"][record["best_epoch"] - 1]["loss"]  # still fitting train
        assert not record["bounded"] and record["full_steps"] == record["steps"]  # stopped, not bounded
    assert (eager["best_epoch"], eager["stopped_epoch"]) == (graph["best_epoch"], graph["stopped_epoch"])
    assert np.allclose([e["val_loss"] for e in eager["history"]], [e["val_loss"] for e in graph["history"]], atol=1e-5)


def test_the_saved_model_holds_the_best_epochs_weights(stopped: Path) -> None:
    paths = RunPaths.of(stopped)
    validation = load_validation(paths.features("validation"))
    raw = pq.read_table(paths.test_raw)  # the raw rows the validation features were engineered from
    for mode in ("eager", "graph"):
        record = read_json(paths.history(mode))
        snapshots = load_epoch_weights(paths, mode)
        assert len(snapshots) == record["stopped_epoch"]
        with np.load(paths.weights(mode)) as saved:
            flat = np.concatenate([saved[k].reshape(-1) for k in saved.files])
        assert np.array_equal(flat, snapshots[record["best_epoch"] - 1])
        assert not np.array_equal(flat, snapshots[-1])  # the last epoch's weights were not kept
        # The SavedModel reloaded from disk scores the validation rows at the kept epoch's validation loss.
        served = load_serving(paths.model(mode))(raw)
        y = validation.y[:, 0].astype(np.float64)
        p = np.clip(served[:, 0].astype(np.float64), 1e-7, 1 - 1e-7)
        loss = float(np.mean(-(y * np.log(p) + (1 - y) * np.log(1 - p))))
        assert loss == pytest.approx(record["history"][record["best_epoch"] - 1]["val_loss"], abs=1e-4)


def test_a_validation_split_beyond_in_memory_rows_streams_to_the_same_loss(stopped: Path) -> None:
    import keras

    path = RunPaths.of(stopped).features("validation")
    held, streamed = load_validation(path, in_memory_rows=10**6), load_validation(path, in_memory_rows=10)
    assert isinstance(held, Validation) and isinstance(streamed, StreamedValidation)
    assert streamed.n_rows == held.n_rows > 16
    for (x, y), (read_x, read_y) in zip(held.blocks(16), streamed.blocks(16), strict=True):
        assert read_x.dtype == np.float32 and np.array_equal(read_x, x) and np.array_equal(read_y, y)
    model = keras.Sequential([keras.Input((held.x.shape[1],)), keras.layers.Dense(1, activation="sigmoid")])
    assert validation_loss(model, streamed, "binary") == validation_loss(model, held, "binary")


class _BlowsUp(InMemorySource):
    """The in-memory source, whose rows become huge from epoch `at` (0-based) on: the loss goes infinite there,
    whatever the mode, as a learning rate far too large does after some epochs."""

    def __init__(self, x: np.ndarray, y: np.ndarray, at: int) -> None:
        super().__init__(x, y, 16, 3)
        self.at = at

    def blocks(self, epoch: int) -> Iterator[Block]:
        for block in super().blocks(epoch):
            yield block if epoch < self.at else Block(block.x * 1e30, block.y, block.batches, block.counts, block.n_batches)


def _regression(n: int = 96) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    return x, (x @ np.array([[1.0], [-1.0], [0.5], [0.0]], np.float32)).astype(np.float32)


@pytest.mark.parametrize("mode,variant", [("eager", "step"), ("graph", "step"), ("graph", "xla")])
def test_a_diverging_loss_stops_at_once_and_the_best_weights_come_back(mode: str, variant: str) -> None:
    x, y = _regression()
    validation = Validation(x[:32], y[:32])
    model, result = train_from(_BlowsUp(x, y, at=3), mode, variant, 20, 8, 0.05, 1, task="regression",
                               validation=validation, patience=5)
    assert result.stopped_epoch == 4 and result.stop_reason.startswith("diverged at epoch 4 (loss ")
    best = 1 + int(np.argmin([entry["val_loss"] for entry in result.history[:3]]))
    assert result.best_epoch == best and len(result.epoch_weights) == 4
    assert not np.all(np.isfinite(result.epoch_weights[-1]))  # the diverged epoch's weights
    kept = np.concatenate([w.numpy().reshape(-1) for w in model.weights])
    assert np.array_equal(kept, result.epoch_weights[best - 1])
    assert validation_loss(model, validation, "regression") == pytest.approx(result.history[best - 1]["val_loss"], rel=1e-6)


def test_a_run_that_never_has_finite_weights_names_the_learning_rate() -> None:
    x, y = _regression()
    with pytest.raises(ConfigError, match=r"^training diverged at epoch 1 \(loss .*\) and no epoch ended with finite "
                                          r"weights: lower --learning-rate \(now 0.05\); nothing was exported$"):
        train_from(_BlowsUp(x, y, at=0), "graph", "fused", 5, 8, 0.05, 1, task="regression", patience=2)


def test_run_parity_shows_the_stop_epochs_and_a_disagreement_is_said(stopped: Path) -> None:
    metrics = evaluate_run(stopped)
    record = read_json(RunPaths.of(stopped).history("graph"))
    kept = [record["best_epoch"], record["stopped_epoch"]]
    assert metrics["parity_stop_epochs"] == {"eager": kept, "graph": kept} and metrics["parity_note"] is None
    console = Console(file=io.StringIO(), width=80, record=True)
    print_run({"metrics": metrics, "prediction": {"probability": 0.5, "predicted": 1}}, console)
    shown = console.export_text()
    assert f"both kept epoch {kept[0]} and stopped after epoch {kept[1]}" in shown.replace("\n", " ")
    assert f"graph kept epoch {kept[0]} of {kept[1]} (no improvement for 4 epochs)" in shown.replace("\n", " ")
    assert stop_note([3, 7], [4, 8]) == ("eager and graph stopped differently (eager kept epoch 3 of 7, graph kept "
                                         "epoch 4 of 8): their validation losses sat within rounding of the "
                                         "early-stopping threshold, so the models hold different epochs' weights")

"""Parity told honestly: step parity (one step from one state) and run parity (final weights, test predictions,
the epoch the trajectories drifted apart), through compare_modes and into the terminal and the UI artifact."""

from __future__ import annotations

import io
from dataclasses import asdict
from pathlib import Path

import keras
import numpy as np
import pytest
from rich.console import Console

from eagergraph.accumulators import binary_metrics
from eagergraph.core import parity
from eagergraph.core.evaluation import compare_modes
from eagergraph.core.export import save_weights
from eagergraph.core.model import Totals, build_model, make_train_step
from eagergraph.core.parity import RUN_TOLERANCE, STEP_TOLERANCE, drift_epoch, parity_note
from eagergraph.core.runners import make_runner
from eagergraph.core.sources import InMemorySource
from eagergraph.core.training import TrainResult, train
from eagergraph.io import write_json
from eagergraph.modes import VARIANTS
from eagergraph.reporting.artifacts import evaluation_markdown
from eagergraph.reporting.terminal import print_run
from eagergraph.rundir.paths import RunPaths

DRIFT = "eager and graph drifted apart after epoch"


def _table(rows: int, n: int, seed: int, random_labels: bool) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, n)).astype(np.float32)
    y = rng.integers(0, 2, (rows, 1)) if random_labels else (x**2).sum(axis=1, keepdims=True) > n
    return x, y.astype(np.float32)


def _evaluate(tmp_path: Path, x: np.ndarray, y: np.ndarray, variant: str, **hp) -> dict:
    """Train both modes as the stages do (graph measures step parity), keep their files as a run directory holds
    them, and compare them with evaluate's own compare_modes; returns the metrics a run would write."""
    paths = RunPaths.of(tmp_path)
    report, probabilities = {}, {}
    for mode in ("eager", "graph"):
        model, result = train(x, y, mode, variant, **hp, measure_step_parity=True)
        save_weights(model, paths.weights(mode))
        parity.save_epoch_weights(paths, mode, result.epoch_weights)
        write_json(paths.history(mode), {k: v for k, v in asdict(result).items() if k != "epoch_weights"})
        probabilities[mode] = model(x, training=False).numpy()  # Keras inference, as the test split's scores
        report[mode] = {**binary_metrics(y, probabilities[mode]), **_figures(result)}
        assert (result.step_parity is None) == (mode == "eager")  # measured by the graph run only
    report.update(compare_modes(report, float(np.max(np.abs(probabilities["eager"] - probabilities["graph"]))), paths))
    return {**report, "graph_variant": report["graph"]["variant"], "test_rows": len(x), "positive_class": None}


def _figures(result: TrainResult) -> dict:
    keep = ("variant", "train_seconds", "trace_seconds", "steady_seconds", "median_step_ms", "steps", "full_steps",
            "full_train_seconds")
    return {**{k: getattr(result, k) for k in keep}, "bounded": result.bounded,
            "history": [{k: e[k] for k in ("epoch", "loss", "accuracy")} for e in result.history]}


def _shown(metrics: dict) -> tuple[str, str]:
    """What the terminal prints and what the evaluation artifact says about the run."""
    console = Console(file=io.StringIO(), width=80, record=True)  # as a pipe or a log file gets it
    print_run({"metrics": metrics, "prediction": {"probability": 0.5, "predicted": 1}}, console)
    return console.export_text(), evaluation_markdown(metrics, None, "run")


def test_a_long_chaotic_run_drifts_apart_and_says_so_while_one_step_agrees(tmp_path: Path) -> None:
    # Random labels and a large learning rate: training never settles, so the rounding differences between eager
    # and XLA (which fuses and reorders float operations) grow from step to step, as over thousands of real steps.
    # 128 rows in batches of 32: 100 steps, the weights part from epoch 11 of 25 and end about 10x the tolerance apart.
    x, y = _table(128, 6, seed=0, random_labels=True)
    metrics = _evaluate(tmp_path, x, y, epochs=25, batch_size=32, hidden=8, learning_rate=1.0, seed=5, variant="xla")
    epoch, per_epoch = metrics["parity_drift_epoch"], metrics["parity_epoch_max_abs_diff"]
    assert len(per_epoch) == 25 and epoch is not None
    assert all(diff <= RUN_TOLERANCE for diff in per_epoch[:epoch - 1]) and per_epoch[epoch - 1] > RUN_TOLERANCE
    assert max(metrics["weights_max_abs_diff"], metrics["parity_max_abs_diff"]) > RUN_TOLERANCE
    assert metrics["step_parity"] <= STEP_TOLERANCE  # every step is the same computation
    note = metrics["parity_note"]
    assert note == (f"{DRIFT} {epoch} (weights differ by {metrics['weights_max_abs_diff']:.1e}); step parity "
                    f"{metrics['step_parity']:.1e} shows the computation is the same; rounding differences "
                    "grow over long runs")
    terminal, markdown = _shown(metrics)
    assert note in terminal.splitlines() and f"**Parity:** {note}" in markdown
    assert f"step parity {metrics['step_parity']:.2e}: max |eager − graph (xla)| of the weights" in terminal
    assert f"| weights differ by more than 1e-4 | from epoch {epoch} |" in markdown


@pytest.mark.parametrize("variant", VARIANTS)
def test_step_parity_runs_one_real_step_and_leaves_the_trained_model_as_it_was(variant: str) -> None:
    x, y = _table(256, 4, seed=2, random_labels=False)
    source = InMemorySource(x, y, 32, 3)
    model = build_model(4, 8, 3)
    optimizer = keras.optimizers.Adam(0.01)
    optimizer.build(model.trainable_variables)
    step = make_train_step(model, optimizer, Totals())
    runner = make_runner("graph", variant, step, source.template())
    runner.warm_up(source.template())
    runner.run_block(next(source.blocks(0)), 5)  # a trained state: Adam's moments hold five steps
    state, block = parity.training_state(model, optimizer), parity.first_block(source)
    assert np.array_equal(block.x.numpy()[block.rows(0)], next(source.batches(0))[0])  # the run's real first batch
    assert parity.step_parity(model, optimizer, step, block, runner) <= STEP_TOLERANCE
    weights, adam = parity.training_state(model, optimizer)
    for kept, now in zip([*state[0], *state[1]], [*weights, *adam], strict=True):
        assert np.array_equal(kept, now)  # weights and Adam's state exactly as trained
    runner.run_block(block, 1)
    assert float(np.max(np.abs(parity.flat_weights(model) - np.concatenate([w.reshape(-1) for w in state[0]])))) > 1e-4
    # ...so one step really moves the weights: the agreement above means something


def test_measuring_step_parity_changes_nothing_the_run_exports() -> None:
    x, y = _table(200, 4, seed=4, random_labels=False)
    plain, _ = train(x, y, "graph", "fused", epochs=2, batch_size=32, hidden=8, learning_rate=0.01, seed=3)
    measured, result = train(x, y, "graph", "fused", epochs=2, batch_size=32, hidden=8, learning_rate=0.01, seed=3,
                             measure_step_parity=True)
    assert np.array_equal(parity.flat_weights(plain), parity.flat_weights(measured))
    assert result.tracing_count == 1 and result.step_parity <= STEP_TOLERANCE  # no trace beyond the run's own


def test_the_drift_epoch_and_the_note_follow_their_definitions() -> None:
    assert drift_epoch([1e-7, 5e-5, 2e-4, 3e-5]) == 3  # the first epoch beyond 1e-4, even if a later one is back
    assert drift_epoch([1e-7, 1e-4]) is None  # at the tolerance is not beyond it
    assert parity_note(1e-4, 5e-5, None, 5, 1e-8) is None
    assert parity_note(None, None, None, 5, 1e-8) is None  # one mode only: nothing compared, nothing said
    # the predictions alone beyond the tolerance: they are compared after the last epoch, which the line names
    assert parity_note(5e-5, 3e-4, None, 5, 1e-8) == (
        f"{DRIFT} 5 (weights differ by 5.0e-05, test predictions by 3.0e-04); step parity 1.0e-08 shows the "
        "computation is the same; rounding differences grow over long runs")
    # a step that already differs is not called the same computation
    assert "step parity 3.0e-05 is above 1e-06: one step already differs" in parity_note(2e-3, 1e-3, 7, 9, 3e-5)

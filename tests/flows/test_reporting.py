"""What a run shows besides its files: TensorBoard events, the curves PNG and its Prefect artifacts (the pure
rendering of them is tested in tests/unit/test_reporting_formats.py)."""

from __future__ import annotations

import io
import json

import httpx
import pytest
from rich.console import Console

from eagergraph.config import PipelineConfig
from eagergraph.core.parity import RUN_TOLERANCE, STEP_TOLERANCE
from eagergraph.reporting.terminal import print_run
from eagergraph.rundir.paths import RunPaths


def _scalars(folder) -> dict[str, list[tuple[int, float]]]:
    """Every scalar in a folder's event files, read back with TensorFlow's own reader."""
    import tensorflow as tf

    found: dict[str, list[tuple[int, float]]] = {}
    for events in sorted(folder.glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(events)):
            for value in event.summary.value:
                found.setdefault(value.tag, []).append((event.step, float(tf.make_ndarray(value.tensor))))
    return found


def test_tensorboard_events_hold_loss_and_accuracy_per_epoch_for_both_modes(default_run: dict) -> None:
    run = RunPaths.of(default_run["run_dir"])
    assert sorted(p.name for p in run.tensorboard().iterdir()) == ["eager", "graph"]  # siblings: one logdir shows both
    for mode in ("eager", "graph"):
        scalars = _scalars(run.tensorboard(mode))
        history = default_run["metrics"][mode]["history"]
        assert [step for step, _ in scalars["epoch_loss"]] == [e["epoch"] for e in history]
        assert len(history) == default_run["metrics"][mode]["stopped_epoch"]
        assert [v for _, v in scalars["epoch_loss"]] == pytest.approx([e["loss"] for e in history], rel=1e-6)
        assert [v for _, v in scalars["epoch_accuracy"]] == pytest.approx([e["accuracy"] for e in history], rel=1e-6)


def test_training_curves_png_is_written_and_in_the_manifest(default_run: dict) -> None:
    run = RunPaths.of(default_run["run_dir"])
    png = run.training_curves.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    manifest = json.loads(run.manifest.read_text())
    assert manifest["figures"] == {"training_curves": "training_curves.png", "tensorboard": "tensorboard"}
    assert "training_curves.png" in {f["path"] for f in manifest["files"]}


def test_flow_run_has_artifacts_with_stable_keys(default_run: dict, prefect_api: str) -> None:
    found = httpx.post(f"{prefect_api}/artifacts/filter",
                       json={"artifacts": {"flow_run_id": {"any_": [default_run["flow_run_id"]]}}}).json()
    by_key = {a["key"]: a for a in found if a["key"]}
    assert set(by_key) == {"eagergraph-trace-eager", "eagergraph-trace-graph", "eagergraph-evaluation",
                           "eagergraph-run-directory", "eagergraph-training-progress-eager",
                           "eagergraph-training-progress-graph"}
    trace = json.loads(by_key["eagergraph-trace-eager"]["data"])
    epochs = default_run["metrics"]["eager"]["stopped_epoch"]
    assert [row["epoch"] for row in trace] == list(range(1, epochs + 1))
    assert trace[-1]["loss"] == pytest.approx(default_run["metrics"]["eager"]["history"][-1]["loss"], abs=1e-6)
    assert by_key["eagergraph-training-progress-graph"]["type"] == "progress"
    assert by_key["eagergraph-training-progress-graph"]["data"] == 100.0  # updated to the end of the training
    evaluation = by_key["eagergraph-evaluation"]["data"]
    assert f"{default_run['metrics']['speedup']:.2f}x" in evaluation and "parity" in evaluation
    assert default_run["run_dir"] in by_key["eagergraph-run-directory"]["data"]


def test_a_default_run_agrees_every_epoch_and_shows_no_drift_line(default_run: dict, prefect_api: str) -> None:
    """The short run at the default settings (the long chaotic one that drifts is in tests/model/test_parity.py): its
    weights agree after every epoch, one step agrees, and neither the terminal nor the evaluation artifact says drift."""
    metrics = default_run["metrics"]
    per_epoch = metrics["parity_epoch_max_abs_diff"]
    assert len(per_epoch) == PipelineConfig().epochs and max(per_epoch) <= RUN_TOLERANCE
    assert metrics["parity_note"] is None and metrics["parity_drift_epoch"] is None
    assert metrics["step_parity"] <= STEP_TOLERANCE
    console = Console(file=io.StringIO(), width=80, record=True)  # as a pipe or a log file gets it
    print_run(default_run, console)
    terminal = console.export_text()
    found = httpx.post(f"{prefect_api}/artifacts/filter", json={"artifacts": {
        "flow_run_id": {"any_": [default_run["flow_run_id"]]}, "key": {"any_": ["eagergraph-evaluation"]}}}).json()
    (markdown,) = [a["data"] for a in found]
    drift = "eager and graph drifted apart after epoch"
    assert drift not in terminal and drift not in markdown
    assert "step parity" in terminal and "never (every epoch within 1e-4)" in markdown

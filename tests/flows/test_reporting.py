"""What a run shows besides its files: TensorBoard events, the curves PNG, Prefect artifacts, bounded progress."""

from __future__ import annotations

import json

import httpx
import pytest

from eagergraph.reporting.artifacts import artifact_key, evaluation_markdown, trace_rows
from eagergraph.reporting.charts import data_uri_image, ranking_png, step_times_png, training_curves_png
from eagergraph.reporting.monitor import logged_epochs
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
        assert [step for step, _ in scalars["epoch_loss"]] == [1, 2, 3, 4, 5]
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
    assert [row["epoch"] for row in trace] == [1, 2, 3, 4, 5]
    assert trace[-1]["loss"] == pytest.approx(default_run["metrics"]["eager"]["history"][-1]["loss"], abs=1e-6)
    assert by_key["eagergraph-training-progress-graph"]["type"] == "progress"
    assert by_key["eagergraph-training-progress-graph"]["data"] == 100.0  # updated to the end of the training
    evaluation = by_key["eagergraph-evaluation"]["data"]
    assert f"{default_run['metrics']['speedup']:.2f}x" in evaluation and "parity" in evaluation
    assert default_run["run_dir"] in by_key["eagergraph-run-directory"]["data"]


def test_artifact_keys_are_what_prefect_accepts() -> None:
    assert artifact_key("trace", "Eager_Mode") == "eagergraph-trace-eager-mode"
    assert artifact_key("evaluation") == "eagergraph-evaluation"


def test_long_trainings_log_at_most_twenty_epoch_lines() -> None:
    for epochs in (1, 5, 20, 21, 37, 1000):
        shown = [epoch for epoch in range(1, epochs + 1) if logged_epochs(epochs)(epoch)]
        assert shown[0] == 1 and shown[-1] == epochs and len(shown) <= 20
    assert [e for e in range(1, 6) if logged_epochs(5)(e)] == [1, 2, 3, 4, 5]  # short trainings: every epoch


def _history(losses: list[float]) -> list[dict]:
    return [{"epoch": i + 1, "loss": loss, "accuracy": 0.5} for i, loss in enumerate(losses)]


PNG = b"\x89PNG\r\n\x1a\n"


def _size(png: bytes) -> tuple[int, int]:
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def test_charts_are_small_pngs() -> None:
    metrics = {"eager": {"median_step_ms": 50.0, "train_seconds": 6.0, "trace_seconds": 0.0, "steady_seconds": 6.0},
               "graph": {"median_step_ms": 0.3, "train_seconds": 1.0, "trace_seconds": 0.8, "steady_seconds": 0.2},
               "graph_variant": "fused"}
    ranking = [{"name": f"c{i}", "auc": 0.9 - i / 100} for i in range(3)]
    for png in (training_curves_png({"eager": _history([1.0, 0.5, 0.1]), "graph": _history([1.0, 0.6, 0.1])}, "fused"),
                step_times_png(metrics), ranking_png(ranking)):
        assert png.startswith(PNG) and 2_000 < len(png) < 80_000  # tens of kB: fine inside an artifact
        width, height = _size(png)
        assert 300 <= width <= 700 and 100 <= height <= 400
    assert data_uri_image(PNG, "x") == "![x](data:image/png;base64,iVBORw0KGgo=)"


def test_evaluation_markdown_puts_modes_side_by_side() -> None:
    mode = {"loss": 0.2, "accuracy": 0.9, "auc": 0.95, "precision": 0.8, "recall": 0.7, "train_seconds": 3.0,
            "history": _history([0.5, 0.2])}
    text = evaluation_markdown({"eager": mode, "graph": {**mode, "train_seconds": 0.5}, "speedup": 6.0,
                                "parity_max_abs_diff": 1e-7, "graph_variant": "fused"},
                               {"probability": [0.25], "predicted": 1}, "/runs/x", {"Curves": "![curves](data:...)"})
    assert "| metric | eager | graph (fused) |" in text
    assert "| train seconds | 3.000 | 0.500 |" in text
    assert "| speedup (tracing included) | 6.00x |" in text
    assert "| probability | 0.25 |" in text and "/runs/x" in text
    assert text.index("| metric |") < text.index("## Curves\n\n![curves](data:...)")
    assert trace_rows(_history([0.5]))[0] == {"epoch": 1, "loss": 0.5, "accuracy": 0.5}

"""Stage 6, evaluate: both exported models on the test split, side by side, with speedup and parity."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pyarrow as pa

from eagergraph.core.export import load_serving, weights_max_abs_diff
from eagergraph.core.parity import drift_epoch, epoch_differences, load_epoch_weights, parity_note
from eagergraph.core.serving_inputs import Preprocessing, read_preprocessing
from eagergraph.core.variants import MODES
from eagergraph.data.io import LABEL
from eagergraph.io import read_json, write_json
from eagergraph.metrics import binary_metrics, multiclass_metrics, regression_metrics
from eagergraph.rundir.paths import RunPaths


def task_metrics(labels: np.ndarray, output: np.ndarray, prep: Preprocessing | None = None) -> dict:
    """The task's catalogue metrics of a model's output against raw.parquet's label (0/1, class codes, or the
    target in its units): binary (`prep` may be None), multiclass with its confusion matrix, regression with the
    baseline RMSE of the training mean."""
    task = prep.task if prep is not None else "binary"
    if task == "multiclass":
        return multiclass_metrics(labels, output)
    if task == "regression":
        return regression_metrics(labels, output, prep.target["mean"])
    return binary_metrics(labels, output)


def score_model(model: Path, test_raw: "pa.Table", prep: Preprocessing | None = None) -> tuple[np.ndarray, dict]:
    """An exported model (reloaded from disk) on the raw test split: its output and its task's metrics (`prep`,
    the run's normalizer, tells the task; binary without it). The model's own eagergraph.json names the raw
    columns it takes, text ones included."""
    output = load_serving(model)(test_raw)
    return output, task_metrics(test_raw.column(LABEL).to_numpy(), output, prep)


def compare_modes(report: dict, probabilities: dict, paths: RunPaths) -> dict:
    """Speedup, step parity and run parity of eager against graph (the two figures: see core.parity).

    Step parity comes from the graph run (it measures it from its own state), so a graph-only run has it too.
    Speedup and run parity are null when a mode is missing, run parity null when eager was bounded: a bounded eager
    run trained on fewer steps, so its weights cannot match; its speedup uses the time extrapolated to the full
    number of steps (steady per-step time × steps, plus tracing).
    """
    step = read_json(paths.history("graph")).get("step_parity") if "graph" in report else None
    none = {"speedup": None, "steady_speedup": None, "parity_max_abs_diff": None, "weights_max_abs_diff": None,
            "parity_drift_epoch": None, "parity_epoch_max_abs_diff": None, "step_parity": step, "parity_note": None}
    if not {"eager", "graph"} <= set(report):
        return none
    eager, graph = report["eager"], report["graph"]
    speed = {"speedup": eager["full_train_seconds"] / graph["train_seconds"],
             "steady_speedup": (eager["full_train_seconds"] - eager["trace_seconds"]) / graph["steady_seconds"]}
    if eager["bounded"]:
        return {**none, **speed}
    predictions = float(np.max(np.abs(probabilities["eager"] - probabilities["graph"])))
    weights = weights_max_abs_diff(paths.weights("eager"), paths.weights("graph"))
    snapshots = [load_epoch_weights(paths, mode) for mode in ("eager", "graph")]
    per_epoch = epoch_differences(*snapshots) if all(s is not None for s in snapshots) else None
    drifted_at = drift_epoch(per_epoch) if per_epoch is not None else None
    note = parity_note(weights, predictions, drifted_at, len(graph["history"]), step)
    return {**none, **speed, "parity_max_abs_diff": predictions, "weights_max_abs_diff": weights,
            "parity_drift_epoch": drifted_at, "parity_epoch_max_abs_diff": per_epoch, "parity_note": note}


def evaluate_run(run_dir: Path) -> dict:
    """Stage logic: score both SavedModels (reloaded from disk) on the raw test split; write metrics.json."""
    import pyarrow.parquet as pq

    paths = RunPaths.of(run_dir)
    table = pq.read_table(paths.test_raw)
    normalizer = read_preprocessing(paths.normalizer)
    probabilities, report = {}, {}
    modes = [mode for mode in MODES if paths.history(mode).is_file()]  # a run may train one mode only
    for mode in modes:
        probabilities[mode], scores = score_model(paths.model(mode), table, prep=normalizer)  # test_raw also carries passthrough columns
        history = read_json(paths.history(mode))
        report[mode] = {**scores, "variant_reason": history["variant_reason"],
                        "train_seconds": history["train_seconds"], "trace_seconds": history["trace_seconds"],
                        "steady_seconds": history["steady_seconds"], "median_step_ms": history["median_step_ms"],
                        "variant": history["variant"], "bounded": history["bounded"], "steps": history["steps"],
                        "full_steps": history["full_steps"], "full_train_seconds": history["full_train_seconds"],
                        "history": [{k: e[k] for k in ("epoch", "loss", "accuracy") if k in e} for e in history["history"]]}
    if normalizer.task == "regression":  # run parity in the model's own (standardized) units, like its weights
        probabilities = {mode: value / normalizer.target["std"] for mode, value in probabilities.items()}
    report.update(compare_modes(report, probabilities, paths))
    report["graph_variant"] = report["graph"]["variant"] if "graph" in report else None
    report["test_rows"] = table.num_rows
    report["task"], report["classes"] = normalizer.task, normalizer.classes  # the design's contract: every task names itself
    if normalizer.task == "binary":
        report["positive_class"] = normalizer.classes[1]  # precision, recall and the probability are about it
    write_json(paths.metrics, report)
    return report

"""Stage 6, evaluate: both exported models on the test split, side by side, with speedup and parity."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from eagergraph.core.training import load_serving, weights_max_abs_diff
from eagergraph.data.io import LABEL, feature_matrix, read_json, write_json
from eagergraph.rundir.paths import RunPaths

MODES = ("eager", "graph")


def classification_metrics(y_true: np.ndarray, probability: np.ndarray) -> dict[str, float]:
    """Loss, accuracy, AUC, precision and recall of predicted probabilities (threshold 0.5), via Keras metrics."""
    metrics = {
        "loss": keras.metrics.BinaryCrossentropy(),
        "accuracy": keras.metrics.BinaryAccuracy(),
        "auc": keras.metrics.AUC(num_thresholds=1000),
        "precision": keras.metrics.Precision(),
        "recall": keras.metrics.Recall(),
    }
    y = np.asarray(y_true, dtype=np.float32).reshape(-1, 1)
    p = np.asarray(probability, dtype=np.float32).reshape(-1, 1)
    for metric in metrics.values():
        metric.update_state(y, p)
    return {name: float(metric.result()) for name, metric in metrics.items()}


def compare_modes(report: dict, probabilities: dict, paths: RunPaths) -> dict:
    """Speedup and parity of eager against graph; null when a mode is missing, parity null when eager was bounded.

    A bounded eager run trained on fewer steps, so its weights cannot match; its speedup uses the time
    extrapolated to the full number of steps (steady per-step time × steps, plus tracing).
    """
    if not {"eager", "graph"} <= set(report):
        return {"speedup": None, "steady_speedup": None, "parity_max_abs_diff": None, "weights_max_abs_diff": None}
    eager, graph = report["eager"], report["graph"]
    eager_steady = eager["full_train_seconds"] - eager["trace_seconds"]
    comparable = not eager["bounded"]
    return {"speedup": eager["full_train_seconds"] / graph["train_seconds"],
            "steady_speedup": eager_steady / graph["steady_seconds"],
            "parity_max_abs_diff": float(np.max(np.abs(probabilities["eager"] - probabilities["graph"]))) if comparable else None,
            "weights_max_abs_diff": weights_max_abs_diff(paths.weights("eager"), paths.weights("graph")) if comparable else None}


def evaluate_run(run_dir: Path) -> dict:
    """Stage logic: score both SavedModels (reloaded from disk) on the raw test split; write metrics.json."""
    import pyarrow.parquet as pq

    paths = RunPaths.of(run_dir)
    table = pq.read_table(paths.test_raw)
    features = [name for name in table.column_names if name != LABEL]
    x = feature_matrix(table, features)
    y = table.column(LABEL).to_numpy()
    probabilities, report = {}, {}
    modes = [mode for mode in MODES if paths.history(mode).is_file()]  # a run may train one mode only
    for mode in modes:
        probabilities[mode] = load_serving(paths.model(mode))(x)
        history = read_json(paths.history(mode))
        report[mode] = {**classification_metrics(y, probabilities[mode]),
                        "train_seconds": history["train_seconds"], "trace_seconds": history["trace_seconds"],
                        "steady_seconds": history["steady_seconds"], "median_step_ms": history["median_step_ms"],
                        "variant": history["variant"], "bounded": history["bounded"], "steps": history["steps"],
                        "full_steps": history["full_steps"], "full_train_seconds": history["full_train_seconds"],
                        "history": [{k: e[k] for k in ("epoch", "loss", "accuracy")} for e in history["history"]]}
    report.update(compare_modes(report, probabilities, paths))
    report["graph_variant"] = report["graph"]["variant"] if "graph" in report else None
    report["test_rows"] = int(len(y))
    write_json(paths.metrics, report)
    return report

"""Stage 6, evaluate: both exported models on the test split, side by side, with speedup and parity."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import keras
import numpy as np

if TYPE_CHECKING:
    import pyarrow as pa

from eagergraph.core.export import load_serving, weights_max_abs_diff
from eagergraph.core.variants import MODES
from eagergraph.data.io import LABEL, feature_matrix, read_json, write_json
from eagergraph.rundir.paths import RunPaths


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


def score_model(model: Path, test_raw: "pa.Table", features: list[str]) -> tuple[np.ndarray, dict[str, float]]:
    """An exported model (reloaded from disk) on the raw test split: its probabilities and its metrics."""
    probability = load_serving(model)(feature_matrix(test_raw, features))
    return probability, classification_metrics(test_raw.column(LABEL).to_numpy(), probability)


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
    probabilities, report = {}, {}
    modes = [mode for mode in MODES if paths.history(mode).is_file()]  # a run may train one mode only
    for mode in modes:
        probabilities[mode], scores = score_model(paths.model(mode), table, features)
        history = read_json(paths.history(mode))
        report[mode] = {**scores, "variant_reason": history["variant_reason"],
                        "train_seconds": history["train_seconds"], "trace_seconds": history["trace_seconds"],
                        "steady_seconds": history["steady_seconds"], "median_step_ms": history["median_step_ms"],
                        "variant": history["variant"], "bounded": history["bounded"], "steps": history["steps"],
                        "full_steps": history["full_steps"], "full_train_seconds": history["full_train_seconds"],
                        "history": [{k: e[k] for k in ("epoch", "loss", "accuracy")} for e in history["history"]]}
    report.update(compare_modes(report, probabilities, paths))
    report["graph_variant"] = report["graph"]["variant"] if "graph" in report else None
    report["test_rows"] = table.num_rows
    write_json(paths.metrics, report)
    return report

"""The one catalogue of metrics, and the functions that compute them for each task: numpy only, no TensorFlow.

Every place that shows or compares a metric (evaluate, the terminal, the evaluation artifact, metrics.json, the
gate, the registry and `eagergraph runs`) reads its name, direction, label and format from `CATALOGUE`; a new
metric is one `Metric(...)` line here and one entry in its task's scoring function.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

Task = Literal["binary", "multiclass", "regression"]
TASKS: tuple[Task, ...] = ("binary", "multiclass", "regression")
EPSILON = 1e-7  # Keras's clipping of probabilities in its cross-entropies, so test loss matches training loss


@dataclass(frozen=True)
class Metric:
    """One metric: its key in metrics.json, the tasks it belongs to, which way is better, how people read it."""

    name: str
    tasks: tuple[Task, ...]
    higher_is_better: bool
    label: str
    format: str = ".4f"

    def show(self, value: float | None) -> str:
        """The value as the terminal, the UI and `runs` print it ("–" when absent)."""
        return "–" if value is None else format(float(value), self.format)

    def improvement(self, value: float, baseline: float) -> float:
        """How much better `value` is than `baseline` in this metric's direction (negative: worse)."""
        return value - baseline if self.higher_is_better else baseline - value


CATALOGUE: tuple[Metric, ...] = (
    Metric("auc", ("binary",), True, "AUC"),
    Metric("macro_auc", ("multiclass",), True, "macro AUC (one-vs-rest)"),
    Metric("accuracy", ("binary", "multiclass"), True, "accuracy"),
    Metric("macro_f1", ("multiclass",), True, "macro F1"),
    Metric("precision", ("binary",), True, "precision"),
    Metric("recall", ("binary",), True, "recall"),
    Metric("loss", ("binary", "multiclass"), False, "log loss"),
    Metric("rmse", ("regression",), False, "RMSE"),
    Metric("mae", ("regression",), False, "MAE"),
    Metric("r2", ("regression",), True, "R²"),
    Metric("baseline_rmse", ("regression",), False, "RMSE of the training mean"),
)
BY_NAME = {metric.name: metric for metric in CATALOGUE}
# The gate's default metric per task, and the floors a task may set (config field → metric).
GATE_DEFAULT: dict[Task, str] = {"binary": "auc", "multiclass": "macro_auc", "regression": "rmse"}
FLOORS: dict[str, str] = {"min_auc": "auc", "min_accuracy": "accuracy", "min_r2": "r2"}


def metrics_for(task: Task) -> tuple[Metric, ...]:
    """The catalogue's metrics of one task, in catalogue order (the order every table shows them)."""
    return tuple(metric for metric in CATALOGUE if task in metric.tasks)


def metric(name: str) -> Metric:
    """The catalogue entry of a metric, by its metrics.json key."""
    return BY_NAME[name]


# ---------------------------------------------------------------- binary


def roc_auc(positive: np.ndarray, score: np.ndarray) -> float:
    """The exact area under the ROC curve (Mann-Whitney, ties counted half); 0 when a class is absent (as Keras)."""
    positive = np.asarray(positive, dtype=bool).reshape(-1)
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return 0.0
    _, inverse, counts = np.unique(np.asarray(score, dtype=np.float64).reshape(-1), return_inverse=True, return_counts=True)
    ranks = (np.cumsum(counts) - (counts - 1) / 2.0)[inverse.reshape(-1)]  # 1-based ranks, ties averaged
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def binary_metrics(y_true: np.ndarray, probability: np.ndarray) -> dict[str, float]:
    """Loss, accuracy, AUC, precision and recall of the positive class's probability (threshold 0.5), in float64;
    the bounded ones clipped to [0, 1] (a float32 sum can drift past 1: AUC 1.0000001)."""
    y = np.asarray(y_true, dtype=np.float64).reshape(-1) == 1
    p = np.clip(np.asarray(probability, dtype=np.float64).reshape(-1), 0.0, 1.0)
    q = np.clip(p, EPSILON, 1.0 - EPSILON)
    loss = float(-np.mean(np.where(y, np.log(q), np.log1p(-q)))) if len(y) else 0.0
    predicted = p > 0.5
    true_positives = float(np.sum(predicted & y))
    bounded = {"accuracy": float(np.mean(predicted == y)) if len(y) else 0.0, "auc": roc_auc(y, p),
               "precision": true_positives / max(float(predicted.sum()), 1.0),
               "recall": true_positives / max(float(y.sum()), 1.0)}
    return {"loss": max(loss, 0.0), **{name: float(np.clip(value, 0.0, 1.0)) for name, value in bounded.items()}}


# ---------------------------------------------------------------- multiclass


def confusion_matrix(y_true: np.ndarray, predicted: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts of (true class, predicted class): rows are the true classes, in the model's class order."""
    cells = np.asarray(y_true, dtype=np.int64).reshape(-1) * n_classes + np.asarray(predicted, dtype=np.int64).reshape(-1)
    return np.bincount(cells, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def multiclass_metrics(y_true: np.ndarray, probabilities: np.ndarray) -> dict:
    """Accuracy, macro F1, macro one-vs-rest AUC (over the classes present in the split), log loss and the
    confusion matrix of class probabilities `[rows, K]` against class codes 0..K-1."""
    y = np.asarray(y_true, dtype=np.int64).reshape(-1)
    p = np.asarray(probabilities, dtype=np.float64)
    k = p.shape[1]
    predicted = p.argmax(axis=1)
    matrix = confusion_matrix(y, predicted, k)
    true_positives = np.diag(matrix).astype(np.float64)
    support, chosen = matrix.sum(axis=1), matrix.sum(axis=0)
    f1 = np.where(support + chosen > 0, 2 * true_positives / np.maximum(support + chosen, 1), 0.0)
    present = [c for c in range(k) if 0 < support[c] < len(y)]
    aucs = [roc_auc(y == c, p[:, c]) for c in present]
    q = np.clip(p[np.arange(len(y)), y], EPSILON, 1.0)
    return {"accuracy": float(true_positives.sum() / max(len(y), 1)),
            "macro_f1": float(f1[support > 0].mean()) if (support > 0).any() else 0.0,
            "macro_auc": float(np.mean(aucs)) if aucs else 0.0,
            "loss": float(-np.mean(np.log(q))) if len(y) else 0.0,
            "confusion_matrix": matrix.tolist()}


# ---------------------------------------------------------------- regression


def regression_metrics(y_true: np.ndarray, predicted: np.ndarray, train_mean: float) -> dict[str, float]:
    """RMSE, MAE and R² in the target's units, and the RMSE of always predicting the training mean (the baseline
    a model must beat to have learned anything)."""
    y = np.asarray(y_true, dtype=np.float64).reshape(-1)
    error = np.asarray(predicted, dtype=np.float64).reshape(-1) - y
    total = float(np.sum((y - y.mean()) ** 2)) if len(y) else 0.0
    return {"rmse": float(np.sqrt(np.mean(error**2))) if len(y) else 0.0,
            "mae": float(np.mean(np.abs(error))) if len(y) else 0.0,
            "r2": 1.0 - float(np.sum(error**2)) / total if total > 0 else 0.0,
            "baseline_rmse": float(np.sqrt(np.mean((y - train_mean) ** 2))) if len(y) else 0.0}

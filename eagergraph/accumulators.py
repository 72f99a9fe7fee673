"""The accumulators that compute each task's metrics (the catalogue in `eagergraph/metrics.py`): numpy only.

Each task's metrics are computed by one accumulator, fed block by block (`update(labels, output)`, then
`result()`), so a test split of any size is scored in bounded memory; the whole-array functions
(`binary_metrics`, `multiclass_metrics`, `regression_metrics`) are the same accumulators fed one block. The AUC's
rank counting over streamed blocks is its own module, `eagergraph/auc.py`.
"""

from __future__ import annotations

import math

import numpy as np

from eagergraph.auc import KEY_CAP, AucCounts
from eagergraph.metrics import AUC_MAX_ERROR, EPSILON, POSITIVE, Task
from eagergraph.moments import RunningMoments

# ---------------------------------------------------------------- binary


class BinaryAccumulator:
    """Loss, accuracy, AUC, precision and recall of the positive class's probability (threshold 0.5), block by
    block, in float64; the bounded ones clipped to [0, 1] (a float32 sum can drift past 1: AUC 1.0000001)."""

    def __init__(self, cap: int | None = KEY_CAP) -> None:
        self.rows, self.log_loss = 0, 0.0
        self.correct = self.true_positives = self.predicted = self.positives = 0
        self.counts = AucCounts(cap)

    def update(self, labels: np.ndarray, probability: np.ndarray) -> "BinaryAccumulator":
        y = np.asarray(labels, dtype=np.float64).reshape(-1) == POSITIVE
        p = np.clip(np.asarray(probability, dtype=np.float64).reshape(-1), 0.0, 1.0)
        q = np.clip(p, EPSILON, 1.0 - EPSILON)
        predicted = p > 0.5
        self.rows += len(y)
        self.log_loss += float(-np.sum(np.where(y, np.log(q), np.log1p(-q))))
        self.correct += int(np.sum(predicted == y))
        self.true_positives += int(np.sum(predicted & y))
        self.predicted += int(predicted.sum())
        self.positives += int(y.sum())
        self.counts.update(y, p)
        return self

    def result(self) -> dict[str, float]:
        """The binary catalogue metrics: loss, accuracy, auc, precision, recall."""
        loss = self.log_loss / self.rows if self.rows else 0.0
        bounded = {"accuracy": self.correct / self.rows if self.rows else 0.0, "auc": self.counts.auc(),
                   "precision": self.true_positives / max(self.predicted, 1),
                   "recall": self.true_positives / max(self.positives, 1)}
        return {"loss": max(loss, 0.0), **{name: float(np.clip(value, 0.0, 1.0)) for name, value in bounded.items()}}

    def bounds(self) -> dict[str, float]:
        """The AUC's bound (metrics.json's `auc_max_error`)."""
        return {AUC_MAX_ERROR: self.counts.max_error()}


def binary_metrics(y_true: np.ndarray, probability: np.ndarray) -> dict[str, float]:
    """The binary metrics of whole arrays (`BinaryAccumulator` fed one block, its AUC exact)."""
    return BinaryAccumulator(cap=None).update(y_true, probability).result()


# ---------------------------------------------------------------- multiclass


def confusion_matrix(y_true: np.ndarray, predicted: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts of (true class, predicted class): rows are the true classes, in the model's class order."""
    cells = np.asarray(y_true, dtype=np.int64).reshape(-1) * n_classes + np.asarray(predicted, dtype=np.int64).reshape(-1)
    return np.bincount(cells, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


class MulticlassAccumulator:
    """Accuracy, macro F1, macro one-vs-rest AUC (over the classes present in the split: one AucCounts per class),
    log loss and the confusion matrix of class probabilities `[rows, K]` against class codes 0..K-1, block by
    block. K is the probabilities' width (taken from the first block unless given)."""

    def __init__(self, n_classes: int | None = None, cap: int | None = KEY_CAP) -> None:
        self.rows, self.log_loss, self.cap = 0, 0.0, cap
        self.matrix = np.zeros((0, 0), dtype=np.int64)
        self.counts: list[AucCounts] = []
        if n_classes:
            self._start(n_classes)

    def _start(self, n_classes: int) -> None:
        self.matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
        self.counts = [AucCounts(self.cap) for _ in range(n_classes)]

    def update(self, labels: np.ndarray, probabilities: np.ndarray) -> "MulticlassAccumulator":
        y = np.asarray(labels, dtype=np.int64).reshape(-1)
        p = np.asarray(probabilities, dtype=np.float64)
        if not self.counts:
            self._start(p.shape[1])
        self.matrix += confusion_matrix(y, p.argmax(axis=1), len(self.counts))
        self.log_loss += float(-np.sum(np.log(np.clip(p[np.arange(len(y)), y], EPSILON, 1.0))))
        for c, counts in enumerate(self.counts):
            counts.update(y == c, p[:, c])
        self.rows += len(y)
        return self

    def _present(self) -> list[int]:
        """The classes the split holds, but not alone (their one-vs-rest AUC is defined)."""
        support = self.matrix.sum(axis=1)
        return [c for c in range(len(support)) if 0 < support[c] < self.rows]

    def result(self) -> dict:
        """The multiclass catalogue metrics and `confusion_matrix` (rows: true class, columns: predicted)."""
        true_positives = np.diag(self.matrix).astype(np.float64)
        support, chosen = self.matrix.sum(axis=1), self.matrix.sum(axis=0)
        f1 = np.where(support + chosen > 0, 2 * true_positives / np.maximum(support + chosen, 1), 0.0)
        aucs = [self.counts[c].auc() for c in self._present()]
        return {"accuracy": float(true_positives.sum() / max(self.rows, 1)),
                "macro_f1": float(f1[support > 0].mean()) if (support > 0).any() else 0.0,
                "macro_auc": float(np.mean(aucs)) if aucs else math.nan,  # no class ordered against another
                "loss": self.log_loss / self.rows if self.rows else 0.0,
                "confusion_matrix": self.matrix.tolist()}

    def bounds(self) -> dict[str, float]:
        """The macro AUC's bound (`auc_max_error`): the mean of the present classes' bounds."""
        errors = [self.counts[c].max_error() for c in self._present()]
        return {AUC_MAX_ERROR: float(np.mean(errors)) if errors else 0.0}


def multiclass_metrics(y_true: np.ndarray, probabilities: np.ndarray) -> dict:
    """The multiclass metrics of whole arrays (`MulticlassAccumulator` fed one block, its AUCs exact)."""
    return MulticlassAccumulator(cap=None).update(y_true, probabilities).result()


# ---------------------------------------------------------------- regression


class RegressionAccumulator:
    """RMSE, MAE and R² in the target's units, and the RMSE of always predicting the training mean (the baseline
    a model must beat to have learned anything), block by block.

    R²'s total sum of squares is the labels' sum of squared deviations from their mean, merged block by block
    (`RunningMoments`, as normalize fits its statistics), never Σy² - n·ȳ², which cancels
    catastrophically when the mean is large beside the spread."""

    def __init__(self, train_mean: float) -> None:
        self.train_mean = float(train_mean)
        self.rows, self.squared_error, self.absolute_error, self.baseline_squared_error = 0, 0.0, 0.0, 0.0
        self.labels = RunningMoments(1)  # the labels' running mean and sum of squared deviations

    def update(self, labels: np.ndarray, predicted: np.ndarray) -> "RegressionAccumulator":
        y = np.asarray(labels, dtype=np.float64).reshape(-1)
        if not len(y):
            return self
        error = np.asarray(predicted, dtype=np.float64).reshape(-1) - y
        self.squared_error += float(np.sum(error**2))
        self.absolute_error += float(np.sum(np.abs(error)))
        self.baseline_squared_error += float(np.sum((y - self.train_mean) ** 2))
        self.labels.update(y[:, None])
        self.rows += len(y)
        return self

    def result(self) -> dict[str, float]:
        """The regression catalogue metrics: rmse, mae, r2, baseline_rmse."""
        n = self.rows
        return {"rmse": float(np.sqrt(self.squared_error / n)) if n else 0.0,
                "mae": self.absolute_error / n if n else 0.0,
                "r2": 1.0 - self.squared_error / spread if (spread := float(self.labels.m2[0])) > 0 else 0.0,
                "baseline_rmse": float(np.sqrt(self.baseline_squared_error / n)) if n else 0.0}

    def bounds(self) -> dict[str, float]:
        """Regression's metrics are exact: no bound."""
        return {}


def regression_metrics(y_true: np.ndarray, predicted: np.ndarray, train_mean: float) -> dict[str, float]:
    """The regression metrics of whole arrays (`RegressionAccumulator` fed one block)."""
    return RegressionAccumulator(train_mean).update(y_true, predicted).result()


Accumulator = BinaryAccumulator | MulticlassAccumulator | RegressionAccumulator


def accumulator(task: Task, train_mean: float | None = None, cap: int | None = KEY_CAP) -> Accumulator:
    """An empty accumulator of a task's metrics; regression needs the training mean (its baseline)."""
    if task == "multiclass":
        return MulticlassAccumulator(cap=cap)
    if task == "regression":
        if train_mean is None:
            raise ValueError("a regression accumulator needs the training mean")
        return RegressionAccumulator(train_mean)
    return BinaryAccumulator(cap)

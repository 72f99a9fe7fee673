"""The gate's noise: a paired bootstrap of candidate − production on the shared test rows. Pure numpy.

Both models' outputs on the same rows are resampled with the SAME row draws (paired), so the interval measures
the noise of the difference, not of each model alone. Each resample is a row of integer weights (how often each
row was drawn), so every metric of the catalogue is a weighted sum over the rows: all resamples of a chunk are
computed at once, without a Python loop over resamples or rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eagergraph.metrics import EPSILON, Task

RESAMPLES = 1000  # fixed: the interval's percentiles move by about 0.1 of its width between seeds at this count
BOOTSTRAP_ROWS = 50_000  # at most this many shared rows (a seeded sample) enter the bootstrap: about 5 s for AUC here
CONFIDENCE = 0.95
_CELLS = 2_000_000  # resamples × rows computed at once (about 16 MB per float array)


@dataclass(frozen=True)
class Interval:
    """candidate − production on the gate metric (the metric's own sign) and its bootstrap percentile interval."""

    difference: float
    low: float
    high: float
    rows: int
    resamples: int = RESAMPLES


def _weights(rng: np.random.Generator, resamples: int, rows: int) -> np.ndarray:
    """`resamples` bootstrap draws of `rows` rows, each as the count of times each row was drawn."""
    drawn = rng.integers(0, rows, size=(resamples, rows)) + (np.arange(resamples) * rows)[:, None]
    return np.bincount(drawn.ravel(), minlength=resamples * rows).reshape(resamples, rows).astype(np.float64)


def _ratio(top: np.ndarray, bottom: np.ndarray) -> np.ndarray:
    return np.where(bottom > 0, top / np.where(bottom > 0, bottom, 1.0), 0.0)


def _auc(positive: np.ndarray, score: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted Mann-Whitney AUC per resample (ties half; NaN when a class is absent, as `auc.roc_auc` says: an AUC
    without both classes is undefined), scores in float32 as auc.roc_auc compares them."""
    score = np.asarray(score, dtype=np.float32)
    order = np.argsort(score, kind="stable")
    ordered = score[order]
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    pos = positive[order].astype(np.float64)
    wp = np.add.reduceat(w[:, order] * pos, starts, axis=1)
    wn = np.add.reduceat(w[:, order] * (1.0 - pos), starts, axis=1)
    below = np.cumsum(wn, axis=1) - wn
    won = np.sum(wp * (below + 0.5 * wn), axis=1)
    pairs = wp.sum(axis=1) * wn.sum(axis=1)
    return np.where(pairs > 0, won / np.where(pairs > 0, pairs, 1.0), np.nan)


def _binary(name: str, y: np.ndarray, p: np.ndarray, w: np.ndarray, total: np.ndarray) -> np.ndarray:
    positive = y == 1
    predicted = p > 0.5
    if name == "auc":
        return _auc(positive, p, w)
    if name == "accuracy":
        return w @ (predicted == positive) / total
    if name == "loss":
        q = np.clip(p, EPSILON, 1 - EPSILON)
        return w @ -np.where(positive, np.log(q), np.log1p(-q)) / total
    if name == "precision":
        return (w @ (predicted & positive)) / np.maximum(w @ predicted, 1.0)
    if name == "recall":
        return (w @ (predicted & positive)) / np.maximum(w @ positive, 1.0)
    raise KeyError(name)


def _multiclass(name: str, y: np.ndarray, p: np.ndarray, w: np.ndarray, total: np.ndarray) -> np.ndarray:
    classes = p.shape[1]
    predicted = p.argmax(axis=1)
    if name == "accuracy":
        return w @ (predicted == y) / total
    if name == "loss":
        return w @ -np.log(np.clip(p[np.arange(len(y)), y], EPSILON, 1.0)) / total
    if name == "macro_auc":
        present = [c for c in range(classes) if 0 < np.count_nonzero(y == c) < len(y)]
        return np.mean([_auc(y == c, p[:, c], w) for c in present], axis=0) if present else np.zeros(len(w))
    if name == "macro_f1":
        f1 = []
        for c in range(classes):
            support, chosen = w @ (y == c), w @ (predicted == c)
            f1.append((_ratio(2 * (w @ ((y == c) & (predicted == c))), support + chosen), support > 0))
        scores, held = np.array([f for f, _ in f1]), np.array([h for _, h in f1])
        return _ratio((scores * held).sum(axis=0), held.sum(axis=0).astype(np.float64))
    raise KeyError(name)


def _regression(name: str, y: np.ndarray, v: np.ndarray, w: np.ndarray, total: np.ndarray,
                train_mean: float) -> np.ndarray:
    if name == "rmse":
        return np.sqrt(w @ (v - y) ** 2 / total)
    if name == "mae":
        return w @ np.abs(v - y) / total
    if name == "baseline_rmse":
        return np.sqrt(w @ (y - train_mean) ** 2 / total)
    if name == "r2":
        mean = (w @ y) / total
        spread = np.sum(w * (y[None, :] - mean[:, None]) ** 2, axis=1)
        return np.where(spread > 0, 1.0 - (w @ (v - y) ** 2) / np.where(spread > 0, spread, 1.0), 0.0)
    raise KeyError(name)


def weighted_metric(task: Task, name: str, labels: np.ndarray, output: np.ndarray, weights: np.ndarray,
                    train_mean: float = 0.0) -> np.ndarray:
    """One catalogue metric of one model's outputs under each row of `weights` (resamples × rows); with a single
    row of ones it is the metric itself (as metrics.py computes it)."""
    w = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    total = w.sum(axis=1)
    out = np.asarray(output, dtype=np.float64)
    if task == "multiclass":
        return _multiclass(name, np.asarray(labels, dtype=np.int64).reshape(-1), out.reshape(len(labels), -1), w, total)
    y = np.asarray(labels, dtype=np.float64).reshape(-1)
    if task == "regression":
        return _regression(name, y, out.reshape(-1), w, total, train_mean)
    return _binary(name, y, np.clip(out.reshape(-1), 0.0, 1.0), w, total)


def paired_interval(task: Task, name: str, labels: np.ndarray, candidate: np.ndarray, production: np.ndarray,
                    seed: int, train_mean: float = 0.0, resamples: int = RESAMPLES) -> Interval:
    """candidate − production on metric `name` over the shared rows, with its paired bootstrap percentile interval
    (CONFIDENCE), seeded: the same inputs and seed give the same interval."""
    rows = len(labels)
    if rows == 0:
        return Interval(float("nan"), float("nan"), float("nan"), 0, resamples)
    ones = np.ones((1, rows))
    point = float(weighted_metric(task, name, labels, candidate, ones, train_mean)[0]
                  - weighted_metric(task, name, labels, production, ones, train_mean)[0])
    rng = np.random.default_rng(seed)
    chunk = max(1, min(resamples, _CELLS // rows))
    diffs = []
    for start in range(0, resamples, chunk):
        w = _weights(rng, min(chunk, resamples - start), rows)
        diffs.append(weighted_metric(task, name, labels, candidate, w, train_mean)
                     - weighted_metric(task, name, labels, production, w, train_mean))
    tail = (1 - CONFIDENCE) / 2 * 100
    drawn = np.concatenate(diffs)
    drawn = drawn[np.isfinite(drawn)]  # a resample that drew one class only has no AUC: it is left out
    if not len(drawn):
        return Interval(point, float("nan"), float("nan"), rows, resamples)
    low, high = np.percentile(drawn, [tail, 100 - tail])
    return Interval(point, float(low), float(high), rows, resamples)


def sample_rows(total: int, seed: int, limit: int = BOOTSTRAP_ROWS) -> np.ndarray | None:
    """Which of `total` rows enter the bootstrap (a seeded sample of `limit`, sorted), or None for all."""
    if total <= limit:
        return None
    return np.sort(np.random.default_rng(seed).choice(total, size=limit, replace=False))

"""The area under the ROC curve over streamed blocks, in bounded memory: exact rank counts per distinct score while
they fit, binned with a stated error bound past that (numpy only; the metric accumulators in accumulators.py use it)."""

from __future__ import annotations

import math

import numpy as np

# Distinct scores an AucCounts keeps apart: 20 bytes each (a key and two counts), 28 once binned (the lowest and
# highest score of each bin), so at most about 56 MiB per class. Past it, scores share bins (see AucCounts).
KEY_CAP = 1 << 21


def score_keys(score: np.ndarray) -> np.ndarray:
    """Scores as uint32 keys in the same order: each score rounded to float32 (the models' output precision), its
    bits reordered so that unsigned order is numeric order; -0.0 is 0.0 and every NaN the largest key (as
    `np.unique` sorts them)."""
    values = np.asarray(score, dtype=np.float32).reshape(-1) + np.float32(0.0)  # a copy, and -0.0 + 0.0 is 0.0
    bits = values.view(np.uint32)
    keys = np.where(bits >> 31 == 1, ~bits, bits | np.uint32(1 << 31))  # negatives reversed, below the positives
    keys[np.isnan(values)] = np.iinfo(np.uint32).max
    return keys


def _runs(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) of each run of equal values in a sorted array."""
    starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1]))) if len(keys) else np.empty(0, np.int64)
    return starts, np.append(starts[1:], len(keys))


class AucCounts:
    """One class's AUC over streamed blocks, in bounded memory: its positives and negatives per distinct score.

    Each block's scores become order-preserving keys (`score_keys`), counted per key and merged into sorted arrays.
    While at most `cap` distinct keys were seen, the AUC is exact: the Mann-Whitney statistic, ties counted half,
    undefined (NaN) when a class is absent. Past the cap, keys lose their low bits until at most `cap` remain, and
    later blocks are binned the same way: scores sharing a bin then tie. A positive and a negative in one bin that
    held more than one distinct score may so be counted half where they should count 0 or 1, so `max_error()`
    bounds |AUC - exact AUC| by half those pairs over P·N (0.0 while no bin mixes scores). Pairs in different bins
    keep their order, so they are always counted right. `cap=None`: never binned (the whole array is in memory).
    """

    def __init__(self, cap: int | None = KEY_CAP) -> None:
        if cap is not None and cap < 2:
            raise ValueError(f"AucCounts: cap must be at least 2, not {cap}")
        self.cap, self.shift = cap, 0  # shift: the low bits every key has lost
        self.keys = np.empty(0, np.uint32)
        self.positives, self.negatives = np.empty(0, np.int64), np.empty(0, np.int64)
        self.lowest: np.ndarray | None = None  # once binned: each bin's lowest and highest full key
        self.highest: np.ndarray | None = None

    def update(self, positive: np.ndarray, score: np.ndarray) -> "AucCounts":
        """Count one block: `positive` (bools) and its scores, row for row."""
        # the label rides in the lowest bit of a 64-bit key: one plain sort orders both (an argsort is 6x slower)
        packed = np.sort((score_keys(score).astype(np.uint64) << 1) | np.asarray(positive, dtype=bool).reshape(-1))
        full, positive = (packed >> 1).astype(np.uint32), (packed & 1).astype(np.int64)
        keys = full >> self.shift
        starts, ends = _runs(keys)
        if not len(starts):
            return self
        positives = np.add.reduceat(positive, starts)
        self._merge(keys[starts], positives, (ends - starts) - positives, full[starts], full[ends - 1])
        if self.cap is not None and len(self.keys) > self.cap:
            self._coarsen()
        return self

    def _merge(self, keys: np.ndarray, positives: np.ndarray, negatives: np.ndarray, lowest: np.ndarray,
               highest: np.ndarray) -> None:
        """Add a block's counts per key (sorted, distinct) to the kept ones: counts of known keys add up, new keys
        are inserted in order."""
        at = np.searchsorted(self.keys, keys)
        known = np.zeros(len(keys), dtype=bool)
        inside = at < len(self.keys)
        known[inside] = self.keys[at[inside]] == keys[inside]
        hit, new, where = at[known], ~known, at[~known]
        self.positives[hit] += positives[known]
        self.negatives[hit] += negatives[known]
        if self.lowest is not None and self.highest is not None:
            self.lowest[hit] = np.minimum(self.lowest[hit], lowest[known])
            self.highest[hit] = np.maximum(self.highest[hit], highest[known])
            self.lowest = np.insert(self.lowest, where, lowest[new])
            self.highest = np.insert(self.highest, where, highest[new])
        self.keys = np.insert(self.keys, where, keys[new])
        self.positives = np.insert(self.positives, where, positives[new])
        self.negatives = np.insert(self.negatives, where, negatives[new])

    def _coarsen(self) -> None:
        """Drop the fewest low bits that leave at most `cap` distinct keys; bins add their counts."""
        assert self.cap is not None
        drop = 1
        while np.count_nonzero(np.diff(self.keys >> drop)) + 1 > self.cap:
            drop += 1
        if self.lowest is None or self.highest is None:  # the first time: every key is still a full one
            self.lowest, self.highest = self.keys.copy(), self.keys.copy()
        binned = self.keys >> drop
        starts, ends = _runs(binned)
        self.keys, self.shift = binned[starts], self.shift + drop
        self.positives = np.add.reduceat(self.positives, starts)
        self.negatives = np.add.reduceat(self.negatives, starts)
        self.lowest, self.highest = self.lowest[starts], self.highest[ends - 1]

    def auc(self) -> float:
        """The area under the ROC curve: the share of (positive, negative) pairs the scores order right, ties half."""
        n_pos, n_neg = int(self.positives.sum()), int(self.negatives.sum())
        if n_pos == 0 or n_neg == 0:
            return math.nan  # no pair to order: undefined, which the gate refuses (a 0.0 would read as a score)
        below = np.cumsum(self.negatives) - self.negatives  # negatives under each key
        twice_won = int(np.sum(self.positives * (2 * below + self.negatives)))  # integers: exact up to the division
        return twice_won / (2 * n_pos * n_neg)

    def max_error(self) -> float:
        """The bound on |auc() - exact AUC|: half the positive×negative pairs in bins holding more than one score,
        over P·N; 0.0 while exact."""
        n_pos, n_neg = int(self.positives.sum()), int(self.negatives.sum())
        if self.lowest is None or self.highest is None or n_pos == 0 or n_neg == 0:
            return 0.0
        mixed = self.lowest != self.highest
        return int(np.sum(self.positives[mixed] * self.negatives[mixed])) / (2 * n_pos * n_neg)


def roc_auc(positive: np.ndarray, score: np.ndarray) -> float:
    """The exact area under the ROC curve (Mann-Whitney, ties counted half, scores compared in float32); NaN when a
    class is absent."""
    return AucCounts(cap=None).update(positive, score).auc()

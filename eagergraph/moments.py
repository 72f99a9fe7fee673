"""Streaming mean and variance per column, merged block by block (Chan et al.'s parallel update), exact to float64:
normalize's statistics of the train split and the regression metrics' label spread (numpy only)."""

from __future__ import annotations

import numpy as np


class RunningMoments:
    """Mean and variance per column in one streaming pass (Chan et al.'s parallel merge), exact to float64; each
    column keeps its own count, so missing cells are simply left out of its statistics."""

    def __init__(self, n_columns: int) -> None:
        self.count = np.zeros(n_columns)
        self.mean = np.zeros(n_columns)
        self.m2 = np.zeros(n_columns)

    def update(self, x: np.ndarray) -> None:
        if len(x) == 0:
            return
        mean = x.mean(axis=0)
        self.merge(len(x), mean, ((x - mean) ** 2).sum(axis=0))

    def merge(self, count: int | np.ndarray, mean: np.ndarray, m2: np.ndarray) -> None:
        count = np.broadcast_to(np.asarray(count, dtype=np.float64), self.count.shape)
        total = self.count + count
        safe = np.where(total > 0, total, 1.0)
        delta = np.where(count > 0, mean - self.mean, 0.0)
        self.mean = self.mean + delta * count / safe
        self.m2 = self.m2 + np.where(count > 0, m2, 0.0) + delta**2 * self.count * count / safe
        self.count = total

    def std(self) -> np.ndarray:
        std = np.sqrt(self.m2 / np.maximum(self.count, 1))
        return np.where(std > 0, std, 1.0)  # a constant column becomes 0 after centring, never a division by zero


def present_moments(columns: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per column: count, mean and sum of squared deviations of its present (not NaN) values."""
    counts, means, m2 = np.zeros(len(columns)), np.zeros(len(columns)), np.zeros(len(columns))
    for j, column in enumerate(columns):
        gaps = np.isnan(column)
        present = column[~gaps] if gaps.any() else column
        if len(present):
            counts[j], means[j] = len(present), present.mean()
            centred = present - means[j]
            # einsum, not np.dot: BLAS's threads made the dot product 1000x slower on two busy cores (measured)
            m2[j] = float(np.einsum("i,i->", centred, centred))
    return counts, means, m2

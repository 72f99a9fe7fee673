"""The train split's profile for later drift checks, built while normalize already holds the rows.

Numeric columns keep a systematic sample of at most SAMPLE train values (every k-th train row: exact when the
train split is no larger, and PSI's sampling error is about (bins - 1) / SAMPLE ≈ 0.004 otherwise, far below the
0.25 threshold), their decile sketch and exact moments; categorical columns keep their exact category counts.
"""

from __future__ import annotations

import numpy as np

BINS = 10  # deciles: PSI's usual resolution
SAMPLE = 2048  # train values kept per numeric column


def bin_counts(values: np.ndarray, edges: np.ndarray | list[float]) -> np.ndarray:
    """Rows per bin: (-inf, e0), [e0, e1), ..., [e_last, inf)."""
    edges = np.asarray(edges, dtype=np.float64)
    return np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1)


def sketch(values: np.ndarray, bins: int = BINS) -> dict:
    """Quantile bin edges of one feature's present values and the rows in each bin, plus moments and range."""
    values = np.asarray(values, dtype=np.float64)
    values = values[~np.isnan(values)]
    if not len(values):
        return {"edges": [], "counts": [0], "mean": 0.0, "std": 0.0, "min": 0.0, "max": 0.0}
    edges = np.unique(np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1]))
    return {"edges": edges.tolist(), "counts": bin_counts(values, edges).tolist(), "mean": float(values.mean()),
            "std": float(values.std()), "min": float(values.min()), "max": float(values.max())}


class TrainSample:
    """Every `stride`-th train row's numeric values, collected block by block (at most SAMPLE rows)."""

    def __init__(self, names: list[str], train_rows: int) -> None:
        self.names = names
        self.stride = max(1, -(-train_rows // SAMPLE))
        self.seen = 0
        self.parts: dict[str, list[np.ndarray]] = {name: [] for name in names}
        self.low = {name: np.inf for name in names}
        self.high = {name: -np.inf for name in names}

    def add(self, train_columns: dict[str, np.ndarray], rows: int) -> None:
        """One block's train rows (raw values, NaN for missing)."""
        first = -self.seen % self.stride  # the block's first row whose overall index is a multiple of the stride
        self.seen += rows
        for name in self.names:
            values = train_columns[name]
            self.parts[name].append(values[first::self.stride].copy())  # a copy: a view would keep the block
            if len(values):  # fmin/fmax skip NaN (missing) without a copy; NaN only when every value is missing
                low, high = float(np.fmin.reduce(values)), float(np.fmax.reduce(values))
                if not np.isnan(low):
                    self.low[name], self.high[name] = min(self.low[name], low), max(self.high[name], high)

    def column(self, name: str) -> np.ndarray:
        return np.concatenate(self.parts[name]) if self.parts[name] else np.empty(0)


def numeric_profile(sample: TrainSample, name: str, mean: float, std: float) -> dict:
    """One numeric column's profile: the sample's decile sketch, the exact moments and range, the sample itself."""
    values = sample.column(name)
    present = values[~np.isnan(values)]
    found = sketch(present)
    exact = {"mean": mean, "std": std, "min": sample.low[name], "max": sample.high[name]} if len(present) else {}
    return {**found, **exact, "sample": present.tolist()}

"""The default data: a seeded synthetic table (numeric features, a label of the chosen task), generated in
blocks so any size streams."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa

from eagergraph.data.io import LABEL, ROW_GROUP_ROWS
from eagergraph.metrics import DEFAULT_TASK


def synthetic_batches(rows: int, n_features: int, seed: int, chunk_rows: int = ROW_GROUP_ROWS,
                      task: str = DEFAULT_TASK) -> Iterator[pa.RecordBatch]:
    """A seeded table the model can learn: a label from a quadratic rule plus noise, on features of mixed scale.

    The label per task: binary 0/1 (the score above its mean), multiclass 0/1/2 (the score in three bands around
    its mean, of roughly equal size), regression the score itself (float).

    The rule is linear in (z, z²) of the standardized features, so the squared features of stage 3 make it
    learnable; the offsets and scales make normalization matter. Chunks are seeded by index, so any chunk
    size gives the same rows.
    """
    coef = np.random.default_rng([seed, 0])
    quadratic = coef.uniform(-1.0, 1.0, n_features)
    linear = coef.uniform(-0.5, 0.5, n_features)
    scale = coef.uniform(0.5, 20.0, n_features)
    offset = coef.uniform(-50.0, 50.0, n_features)
    names = [f"x{i}" for i in range(n_features)]
    threshold = quadratic.sum()  # E[z²] = 1, so the classes come out roughly balanced
    band = 0.43 * float(np.sqrt(2 * (quadratic**2).sum() + (linear**2).sum() + 0.09))  # ±0.43 sd: about thirds
    for index, start in enumerate(range(0, rows, chunk_rows)):
        n = min(chunk_rows, rows - start)
        rng = np.random.default_rng([seed, 1, index])
        # features × rows: every column contiguous, handed to Arrow without a copy; drawn in float32 (twice as fast)
        z = rng.standard_normal((n_features, n), dtype=np.float32).astype(np.float64)
        score = np.einsum("f,fn,fn->n", quadratic, z, z) + linear @ z + rng.normal(0.0, 0.3, n)
        label = _synthetic_label(score, threshold, band, task)
        z *= scale[:, None]  # in place: z becomes x, no second array of the chunk's size
        z += offset[:, None]
        yield pa.RecordBatch.from_arrays([pa.array(z[j]) for j in range(n_features)] + [pa.array(label)], names=[*names, LABEL])


def _synthetic_label(score: np.ndarray, threshold: float, band: float, task: str) -> np.ndarray:
    if task == "regression":
        return score
    if task == "multiclass":
        return np.digitize(score - threshold, [-band, band]).astype(np.int64)
    return (score > threshold).astype(np.int8)

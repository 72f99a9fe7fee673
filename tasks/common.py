"""Small helpers every stage shares: the user-facing error, JSON and Parquet I/O."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

LABEL = "label"  # the label's name inside the run directory, whatever the user's column is called
ROW_GROUP_ROWS = 1 << 20  # rows per Parquet row group: large enough to compress well, small enough to stream


class DataError(ValueError):
    """Input data that cannot be used; the message is one line naming what is wrong and where."""


def write_json(path: Path, payload: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
    return path


def read_json(path: Path) -> Any:
    return json.loads(Path(path).read_text())


def write_batches(path: Path, schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> int:
    """Stream record batches into one Parquet file in row groups; return the number of rows written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = 0
    with pq.ParquetWriter(path, schema) as writer:
        for batch in batches:
            if batch.num_rows:
                writer.write_batch(batch, row_group_size=ROW_GROUP_ROWS)
                rows += batch.num_rows
    return rows


def iter_batches(path: Path, columns: list[str] | None = None) -> Iterator[pa.RecordBatch]:
    """Read a Parquet file of the run directory batch by batch, never the whole table at once."""
    yield from pq.ParquetFile(path).iter_batches(batch_size=ROW_GROUP_ROWS, columns=columns)


def feature_matrix(batch: pa.RecordBatch | pa.Table, columns: list[str]) -> np.ndarray:
    """The named columns as one float64 matrix, rows × columns."""
    if not columns:
        return np.empty((batch.num_rows, 0))
    return np.column_stack([batch.column(name).to_numpy(zero_copy_only=False).astype(np.float64) for name in columns])

"""Stage 3, engineer-features: append the square of every normalized feature (n → 2n columns)."""

from __future__ import annotations

import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from eagergraph.data.io import LABEL, iter_batches, write_batches
from eagergraph.rundir.paths import RunPaths

SQUARE_SUFFIX = "_sq"


def feature_names(base: list[str]) -> list[str]:
    """Model input order: the normalized features, then their squares (the exported models rely on it)."""
    return [*base, *(f"{name}{SQUARE_SUFFIX}" for name in base)]


def add_squares(batch: pa.RecordBatch, base: list[str]) -> pa.RecordBatch:
    """The batch's features followed by their squares, then the label; the input batch is left untouched."""
    columns = [batch.column(name) for name in base]
    squares = [pc.multiply(column, column) for column in columns]
    return pa.RecordBatch.from_arrays([*columns, *squares, batch.column(LABEL)], names=[*feature_names(base), LABEL])


def engineer_to(run_dir: Path) -> dict:
    """Stage logic: write features/{train,test}.parquet from the normalized splits, streaming."""
    started = time.perf_counter()
    paths = RunPaths.of(run_dir)
    rows = 0
    for split in ("train", "test"):
        source = paths.normalized(split)
        base = [name for name in pq.read_schema(source).names if name != LABEL]
        schema = pa.schema([*(pa.field(n, pa.float32()) for n in feature_names(base)), pa.field(LABEL, pa.int8())])
        rows += write_batches(paths.features(split), schema, (add_squares(b, base) for b in iter_batches(source)))
    seconds = time.perf_counter() - started
    return {"train": paths.rel(paths.features("train")), "test": paths.rel(paths.features("test")), "columns": feature_names(base),
            "seconds": seconds, "rows_per_second": rows / max(seconds, 1e-9)}

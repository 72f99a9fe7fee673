"""Stage 3, engineer-features: append the square of every normalized feature (n → 2n columns)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from eagergraph.data.io import LABEL, iter_batches, write_batches
from eagergraph.data.preprocessing import input_names, with_squares
from eagergraph.rundir.paths import RunPaths


def add_squares(batch: pa.RecordBatch, base: list[str]) -> pa.RecordBatch:
    """The batch's features followed by their squares, then the label; the input batch is left untouched."""
    # features × rows; the "concat" lists the rows of both halves instead of copying them into one array
    z = np.stack([batch.column(name).to_numpy(zero_copy_only=False) for name in base])
    inputs = with_squares(z, lambda halves: [row for half in halves for row in half])
    return pa.RecordBatch.from_arrays([*(pa.array(row) for row in inputs), batch.column(LABEL)],
                                      names=[*input_names(base), LABEL])


def engineer_to(run_dir: Path) -> dict:
    """Stage logic: write features/{train,test}.parquet from the normalized splits, streaming."""
    started = time.perf_counter()
    paths = RunPaths.of(run_dir)
    rows = 0
    for split in ("train", "test"):
        source = paths.normalized(split)
        base = [name for name in pq.read_schema(source).names if name != LABEL]
        schema = pa.schema([*(pa.field(n, pa.float32()) for n in input_names(base)), pa.field(LABEL, pa.int8())])
        rows += write_batches(paths.features(split), schema, (add_squares(b, base) for b in iter_batches(source)))
    seconds = time.perf_counter() - started
    return {"train": paths.rel(paths.features("train")), "test": paths.rel(paths.features("test")), "columns": input_names(base),
            "seconds": seconds, "rows_per_second": rows / max(seconds, 1e-9)}

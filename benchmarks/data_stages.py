"""The data stages on one generated Parquet file: seconds and rows/s per stage, with or without categorical columns.

    python benchmarks/data_stages.py ROWS [--categorical 3] [--folder DIR]

The file holds the synthetic table's 10 float features and its 0/1 label (generated block by block), plus
`--categorical` text columns of 5 to 20 values each; ingest reads it as a user's `--data` file.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from eagergraph.data.features import engineer_to
from eagergraph.data.ingest import ingest_to
from eagergraph.data.normalize import SplitFiles, normalize_to
from eagergraph.data.split import SPLITS
from eagergraph.data.synthetic import synthetic_batches
from eagergraph.rundir.manifest import peak_memory_bytes
from eagergraph.rundir.paths import RunPaths


def write_table(path: Path, rows: int, categorical: int, seed: int = 42) -> Path:
    """The synthetic rows plus `categorical` text columns of 5, 12, 20, ... values, one block at a time."""
    writer = None
    for index, batch in enumerate(synthetic_batches(rows, 10, seed)):
        rng = np.random.default_rng([seed, 9, index])
        extra = {}
        for j in range(categorical):
            values = np.array([f"c{j}_{v}" for v in range(5 + (j * 7) % 16)])
            extra[f"cat{j}"] = pa.array(values[rng.integers(0, len(values), batch.num_rows)])
        table = pa.Table.from_batches([batch])
        for name, column in extra.items():
            table = table.append_column(name, column)
        writer = writer or pq.ParquetWriter(path, table.schema, compression="none")
        writer.write_table(table)
    writer.close()
    return path


def measure(data: Path, run: Path) -> dict:
    paths = RunPaths.of(run)
    files = SplitFiles(paths.normalizer, *(paths.normalized(s) for s in SPLITS), paths.test_raw, paths.data_profile)
    started = time.perf_counter()
    stages = {"ingest": ingest_to(paths.raw, data, "label", None, 0, 0, 42),
              "normalize": normalize_to(paths.raw, files, 0.2, 0.1, 42),
              "engineer-features": engineer_to(paths.normalizer, {s: (paths.normalized(s), paths.features(s)) for s in SPLITS})}
    wall = time.perf_counter() - started
    rows = stages["ingest"]["rows"]
    return {"rows": rows, "seconds": {k: round(v["seconds"], 2) for k, v in stages.items()}, "wall_seconds": round(wall, 2),
            "rows_per_second": round(rows / wall), "peak_memory_mb": round(peak_memory_bytes() / 2**20)}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", type=int)
    parser.add_argument("--categorical", type=int, default=0)
    parser.add_argument("--folder", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="eagergraph-data-") as tmp:
        folder = args.folder or Path(tmp)
        data = folder / f"table-{args.rows}-{args.categorical}.parquet"
        if not data.exists():
            write_table(data, args.rows, args.categorical)
        print(json.dumps(measure(data, Path(tmp) / "run")))

"""The data benchmark: rows per second of the three data stages and peak memory, one fresh process per size.

Each size runs in its own interpreter (`python -m eagergraph.bench.data ROWS N_FEATURES SEED FOLDER`), so its peak resident memory
is its own and not the largest of all sizes so far.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from eagergraph.data.features import engineer_to
from eagergraph.data.ingest import ingest_to
from eagergraph.data.normalize import SplitFiles, normalize_to
from eagergraph.data.split import SPLITS
from eagergraph.rundir.manifest import peak_memory_bytes
from eagergraph.rundir.paths import RunPaths

STAGES = ("ingest", "normalize", "engineer-features")


def measure_stages(rows: int, n_features: int, seed: int, run_dir: Path) -> dict:
    """Run the three data stages on synthetic rows in `run_dir`; rows/s per stage and for the three together."""
    started = time.perf_counter()
    paths = RunPaths.of(run_dir)
    files = SplitFiles(paths.normalizer, *(paths.normalized(s) for s in SPLITS), paths.test_raw, paths.data_profile)
    results = {"ingest": ingest_to(paths.raw, None, "label", None, rows, n_features, seed),
               "normalize": normalize_to(paths.raw, files, 0.2, 0.1, seed),
               "engineer-features": engineer_to(paths.normalizer, {s: (paths.normalized(s), paths.features(s))
                                                                   for s in SPLITS})}
    seconds = {stage: results[stage]["seconds"] for stage in STAGES}
    return {"rows": rows, "n_features": n_features, "seconds": seconds,
            "rows_per_second": {stage: results[stage]["rows_per_second"] for stage in STAGES},
            "together_rows_per_second": rows / sum(seconds.values()), "wall_seconds": time.perf_counter() - started,
            "peak_memory_bytes": peak_memory_bytes()}


def measure_in_child(rows: int, n_features: int = 10, seed: int = 42) -> dict:
    """One size in a fresh interpreter and a temporary folder (removed afterwards)."""
    with tempfile.TemporaryDirectory(prefix="eagergraph-bench-") as folder:
        done = subprocess.run([sys.executable, "-m", "eagergraph.bench.data", str(rows), str(n_features), str(seed), folder],
                              capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


if __name__ == "__main__":  # the child process of measure_in_child
    size, features, seed_value, where = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4])
    print(json.dumps(measure_stages(size, features, seed_value, where)))

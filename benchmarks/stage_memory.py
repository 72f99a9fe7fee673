"""Seconds and peak memory of the evaluate and predict stages alone, on a finished run directory.

    python benchmarks/stage_memory.py artifacts/latest --repeat-test 2

Each stage runs in a fresh process of its own: TensorFlow is started first, then the stage's logic is called on a
copy of the run directory (the run itself is left as it was); the figure is the process's peak resident memory
(`ru_maxrss`) above its size once TensorFlow has started, so it is what the stage added. `--repeat-test K` writes
the copy's raw test split K times over (the same rows, K times as many), to see how a stage's memory follows the
test split's rows without training on a larger table.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

STAGES = ("evaluate", "predict")
TEST_RAW = Path("normalized") / "test_raw.parquet"


def repeat_rows(path: Path, times: int) -> int:
    """Rewrite a Parquet file with its row groups written `times` times over, in order; return its rows."""
    source = pq.ParquetFile(path)
    staging = path.with_name(path.name + ".repeated")
    with pq.ParquetWriter(staging, source.schema_arrow, compression="none") as writer:
        for _ in range(times):
            for group in range(source.num_row_groups):
                writer.write_table(source.read_row_group(group))
    staging.replace(path)
    return pq.ParquetFile(path).metadata.num_rows


def child(stage: str, run_dir: Path) -> dict:
    """One stage in this process: its seconds, this process's size before it and the memory it added (MiB)."""
    from eagergraph.core.runtime import start_tensorflow

    start_tensorflow()
    from eagergraph.core.evaluation import evaluate_run
    from eagergraph.core.prediction import predict_run

    before = _current_rss()
    started = time.perf_counter()
    {"evaluate": evaluate_run, "predict": predict_run}[stage](run_dir)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"stage": stage, "seconds": round(seconds, 2), "base_mib": round(before / 2**20),
            "added_mib": round((peak - before) / 2**20)}


def _current_rss() -> int:
    """This process's resident memory now (Linux: /proc/self/statm, in pages)."""
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def measure(run_dir: Path, stages: list[str], repeat: int) -> list[dict]:
    """Each stage in a fresh process, on a copy of the run directory whose test split is repeated `repeat` times."""
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / "run"
        shutil.copytree(run_dir, copy, symlinks=True)
        rows = repeat_rows(copy / TEST_RAW, repeat) if repeat > 1 else pq.ParquetFile(copy / TEST_RAW).metadata.num_rows
        results = []
        for stage in stages:
            done = subprocess.run([sys.executable, __file__, "--child", stage, str(copy)], capture_output=True, text=True,
                                  check=True)
            results.append({**json.loads(done.stdout.strip().splitlines()[-1]), "test_rows": rows})
        return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path, help="a finished run directory (artifacts/<run-id> or artifacts/latest)")
    parser.add_argument("--stages", default=",".join(STAGES), help=f"comma-separated, from: {', '.join(STAGES)}")
    parser.add_argument("--repeat-test", type=int, default=1, help="write the raw test split this many times over")
    parser.add_argument("--child", choices=STAGES, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.run_dir)))
        return 0
    for result in measure(args.run_dir.resolve(), [s for s in args.stages.split(",") if s], args.repeat_test):
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

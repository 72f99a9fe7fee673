"""Scoring throughput: the scoring stages' rows/s against the SavedModel's signature called directly on in-memory
blocks of the same size (the engine's limit on this machine), and the scoring process's peak memory.

    python benchmarks/scoring.py --rows 10000000

A small model is trained first on synthetic data (10 numeric features, through the real command line, unless
`--model RUN_DIR` names one); a Parquet file of `--rows` rows of those features is written; then each side runs in
a fresh process of its own:

- direct: TensorFlow started, the SavedModel loaded, 16 blocks of BLOCK_ROWS rows built in memory as the
  signature's tensors, and `serving_default` called on them in turn until `--rows` rows are scored;
- scoring: the `score` stage's one pass as it runs in the flow (each block read, checked against the features' kinds
  and counted for drift against the training profile, predicted through the reloaded SavedModel, written as Parquet
  with lineage), timed from the first read to the file complete and the drift report made.

- read and write, no model: the file read in the same blocks and written back with the same encodings (what the
  input's own columns cost to carry through).

Each prints rows/s, its CPU seconds (every thread of the process: on a shared machine the figure that moves least
with the load) and the process's peak resident memory (`ru_maxrss`, TensorFlow included where loaded).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from eagergraph.bench.command import eagergraph_command

FEATURES = [f"x{i}" for i in range(10)]
BLOCKS = 16


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_input(path: Path, rows: int, seed: int = 0) -> None:
    """`rows` rows of the synthetic model's features, written a row group at a time (memory flat)."""
    from eagergraph.data.io import ROW_GROUP_ROWS

    rng = np.random.default_rng(seed)
    schema = pa.schema([(name, pa.float64()) for name in FEATURES])
    with pq.ParquetWriter(path, schema, compression="none") as writer:
        for start in range(0, rows, ROW_GROUP_ROWS):
            n = min(ROW_GROUP_ROWS, rows - start)
            writer.write_table(pa.table({name: rng.standard_normal(n) for name in FEATURES}, schema=schema))


def direct(model_run: Path, rows: int) -> dict:
    """The signature called on in-memory blocks of BLOCK_ROWS rows, cycled until `rows` rows are scored."""
    from eagergraph.core.runtime import start_tensorflow

    start_tensorflow()
    import tensorflow as tf

    from eagergraph.core.serving_inputs import ModelInputs
    from eagergraph.data.io import BLOCK_ROWS
    from eagergraph.io import read_json
    from eagergraph.rundir.paths import model_info_file, resolve_model

    saved = resolve_model(model_run)
    signature = tf.saved_model.load(str(saved)).signatures["serving_default"]
    names = ModelInputs.of(read_json(model_info_file(saved))).names
    rng = np.random.default_rng(1)
    blocks = [{names[f]: tf.constant(rng.standard_normal(BLOCK_ROWS)) for f in FEATURES} for _ in range(BLOCKS)]
    signature(**blocks[0])  # warm
    done, started, cpu = 0, time.perf_counter(), time.process_time()
    while done < rows:
        next(iter(signature(**blocks[(done // BLOCK_ROWS) % BLOCKS]).values())).numpy()
        done += BLOCK_ROWS
    seconds = time.perf_counter() - started
    return {"side": "direct", "rows": done, "seconds": seconds, "rows_per_s": done / seconds,
            "cpu_seconds": time.process_time() - cpu, "peak_mib": peak_mib()}


def scoring(model_run: Path, source: Path, output: Path) -> dict:
    """The check and score stages' logic on the file, as the flow calls them (no Prefect)."""
    from eagergraph.core.prediction import load_model
    from eagergraph.core.serving_inputs import ModelInputs
    from eagergraph.scoring.check import ProfileCounts, drift_report, reference_profile
    from eagergraph.scoring.plan import plan
    from eagergraph.scoring.score import lineage, score_file

    planned = plan(model_run.parent, None, model_run, source, output)
    load_model(Path(planned["model"]))  # TensorFlow started and the model loaded once, outside the timing
    started, cpu = time.perf_counter(), time.process_time()
    counts = ProfileCounts(reference_profile(planned), ModelInputs.of(planned["info"]))
    facts = lineage(planned, source, planned["inputs"][0]["digest"], None)
    scored = score_file(Path(planned["model"]), planned["info"], source, output / "bench.predictions.parquet", facts,
                        counts)
    report = drift_report(reference_profile(planned), counts, 0.25, model_run.name)
    seconds = time.perf_counter() - started
    return {"side": "scoring", "rows": scored["rows"], "seconds": seconds, "rows_per_s": scored["rows"] / seconds,
            "cpu_seconds": time.process_time() - cpu, "drift": report["status"], "peak_mib": peak_mib()}


def io_floor(source: Path, output: Path) -> dict:
    """The same file read in the same blocks and written back with the same encodings, no model: what reading the
    input and writing its columns costs on its own."""
    from eagergraph.core.prediction import input_batches
    from eagergraph.data.io import ROW_GROUP_ROWS, in_blocks
    from eagergraph.scoring.score import _encodings

    output.mkdir(parents=True, exist_ok=True)
    started, cpu, rows, writer = time.perf_counter(), time.process_time(), 0, None
    for block in in_blocks(input_batches(source, FEATURES)):
        if writer is None:
            writer = pq.ParquetWriter(output / "copy.parquet", block.schema, **_encodings(block.schema))
        writer.write_table(block, row_group_size=ROW_GROUP_ROWS)
        rows += block.num_rows
    writer.close()
    seconds = time.perf_counter() - started
    return {"side": "read and write, no model", "rows": rows, "seconds": seconds, "rows_per_s": rows / seconds,
            "cpu_seconds": time.process_time() - cpu, "peak_mib": peak_mib()}


def child(*args: str) -> dict:
    done = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=1, help="rounds of the three sides, alternating")
    parser.add_argument("--model", type=Path, help="a run directory with a model of features x0..x9")
    parser.add_argument("--side", choices=["direct", "scoring", "io"], help=argparse.SUPPRESS)
    parser.add_argument("--input", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--output", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side == "direct":
        print(json.dumps(direct(args.model, args.rows)))
        return
    if args.side == "scoring":
        print(json.dumps(scoring(args.model, args.input, args.output)))
        return
    if args.side == "io":
        print(json.dumps(io_floor(args.input, args.output)))
        return
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        model = args.model
        if model is None:
            subprocess.run([*eagergraph_command(), "run", "--ephemeral", "--rows", "2000", "--epochs", "1", "--artifacts",
                            str(work / "artifacts")], check=True, capture_output=True)
            model = (work / "artifacts" / "latest").resolve()
        write_input(work / "new.parquet", args.rows)
        for _ in range(args.repeat):  # the sides alternate: each round sees about the same machine load
            results = [child("--side", "direct", "--model", str(model), "--rows", str(args.rows)),
                       child("--side", "scoring", "--model", str(model), "--input", str(work / "new.parquet"),
                             "--output", str(work / "scored")),
                       child("--side", "io", "--input", str(work / "new.parquet"), "--output", str(work / "copy"))]
            for result in results:
                print(json.dumps(result))
            direct_side, scoring_side = results[0], results[1]
            cpu = (scoring_side["cpu_seconds"] / scoring_side["rows"]) / (direct_side["cpu_seconds"] / direct_side["rows"])
            print(f"scoring / direct: {scoring_side['rows_per_s'] / direct_side['rows_per_s']:.0%} of the rows/s, "
                  f"{cpu:.1f}× the CPU seconds per row", flush=True)


if __name__ == "__main__":
    main()

"""Data-path benchmark: eagergraph's data stages beside Polars, DuckDB and a pyarrow floor, on one generated file.

    pip install -e '.[bench]'
    python benchmarks/data_path.py                          # 10M rows × 10 float features + 0/1 label
    python benchmarks/data_path.py --rows 1000000 --categorical 3 --repeat 3 --whole-command --json data-path.json

The file is generated block by block (seeded, bounded memory), then every contender runs in a process of its
own, so the peak resident memory and the CPU seconds it reports (getrusage, process_time: the steadier figure on a
busy machine; the load average is printed beside them) are its own (with `--repeat N`, N rounds over all
contenders, each keeping its fastest round: a shared machine's busy spells hit them alike):
- eagergraph: the package's data stages called in-process, no Prefect, as the flow calls them: ingest →
  normalize (which writes check-data's profile of the train split while it holds the rows) → engineer-features;
- Polars (lazy frames, streaming `sink_parquet`) and DuckDB doing the same work: validate (nulls, NaN), a raw
  copy, a 70/10/20 train/validation/test split by a hash of each row's content and the seed (each engine's own
  hash), train statistics and vocabularies, normalized and engineered (z, z², one-hot with an unseen and a missing
  slot) train/validation/test files, the raw test rows, deciles of every feature;
- pyarrow reading the file and writing it once: the floor.
A contender that fails is named on stderr and makes the exit status 1.
`--whole-command` also times `eagergraph run --data FILE --label label --modes graph --batch-size 1024
--epochs 1` (on the Prefect server eagergraph finds: start one first to leave its start-up out) and its peak RSS,
then the same command again into the same artifacts folder, and prints each cached stage's hit as a share of its
first run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from eagergraph.bench.command import eagergraph_command

LABEL = "label"
BLOCK_ROWS = 1_000_000
TEST_FRACTION = 0.2
VALIDATION_FRACTION = 0.1
DECILES = [q / 10 for q in range(1, 10)]
MAX_CATEGORIES = 50
CONTENDERS = ("eagergraph", "polars", "duckdb", "pyarrow")
CACHED_STAGES = ("ingest", "normalize", "engineer-features")  # the flow's stages a second identical run finds cached


# ---------------------------------------------------------------- the generated file


def category_sizes(categorical: int) -> list[int]:
    """Distinct values of each categorical column: spread over 5–20."""
    return [5 + (15 * k) // max(categorical - 1, 1) for k in range(categorical)]


def generate(path: Path, rows: int, n_features: int = 10, categorical: int = 0, seed: int = 42,
             block_rows: int = BLOCK_ROWS) -> None:
    """Write `rows` rows block by block: float features of mixed scale, text columns of 5–20 values (skewed
    shares, a few missing cells), and a 0/1 label that depends on both. Blocks are seeded by index."""
    coef = np.random.default_rng([seed, 0])
    weights, scale, offset = coef.normal(0, 1, n_features), coef.uniform(0.5, 20, n_features), coef.uniform(-50, 50, n_features)
    sizes = category_sizes(categorical)
    effects = [coef.normal(0, 1, size) for size in sizes]
    vocabularies = [pa.array([f"c{k}_{v:02d}" for v in range(size)]) for k, size in enumerate(sizes)]
    fields = [pa.field(f"x{j}", pa.float64()) for j in range(n_features)]
    fields += [pa.field(f"cat{k}", pa.string()) for k in range(categorical)] + [pa.field(LABEL, pa.int8())]
    with pq.ParquetWriter(path, pa.schema(fields)) as writer:
        for index, start in enumerate(range(0, rows, block_rows)):
            n = min(block_rows, rows - start)
            rng = np.random.default_rng([seed, 1, index])
            z = rng.standard_normal((n_features, n))
            score = weights @ z + rng.normal(0, 0.5, n)
            columns = [pa.array(z[j] * scale[j] + offset[j]) for j in range(n_features)]
            for k, size in enumerate(sizes):
                shares = 1.0 / np.arange(1, size + 1)  # Zipf-like: a few common values, a tail of rare ones
                codes = rng.choice(size, n, p=shares / shares.sum())
                score += effects[k][codes]
                missing = rng.random(n) < 0.01
                columns.append(pc.if_else(pa.array(missing), pa.scalar(None, pa.string()),
                                          vocabularies[k].take(pa.array(codes))))
            columns.append(pa.array((score > 0).astype(np.int8)))
            writer.write_batch(pa.RecordBatch.from_arrays(columns, schema=writer.schema))


def feature_names(schema: pa.Schema) -> tuple[list[str], list[str]]:
    """(numeric, categorical) feature columns of the generated file."""
    numeric = [f.name for f in schema if f.name != LABEL and (pa.types.is_floating(f.type) or pa.types.is_integer(f.type))]
    text = [f.name for f in schema if f.name != LABEL and pa.types.is_string(f.type)]
    return numeric, text


def peak_rss_bytes() -> int:
    """This process's peak resident memory (Linux: ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class Stages:
    """Seconds per named stage, measured in order."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.perf_counter()

    def done(self, name: str) -> None:
        now = time.perf_counter()
        self.seconds[name] = self.seconds.get(name, 0.0) + now - self._last
        self._last = now


# ---------------------------------------------------------------- the contenders (each in a child process)


def run_eagergraph(file: Path, work: Path, seed: int) -> dict[str, float]:
    """The package's data stages, in-process, as orchestration/pipeline.py calls them through their tasks:
    ingest → normalize (which also writes check-data's drift profile of the train split) → engineer-features."""
    from eagergraph.data.features import engineer_to
    from eagergraph.data.ingest import ingest_to
    from eagergraph.data.normalize import SplitFiles, normalize_to
    from eagergraph.data.split import SPLITS
    from eagergraph.rundir.paths import RunPaths

    stages = Stages()
    paths = RunPaths.of(work)
    ingest_to(paths.raw, file, LABEL, None, 0, 0, seed)
    stages.done("ingest")
    files = SplitFiles(paths.normalizer, *(paths.normalized(s) for s in SPLITS), paths.test_raw, paths.data_profile)
    normalize_to(paths.raw, files, TEST_FRACTION, VALIDATION_FRACTION, seed)
    stages.done("normalize + profile")
    engineer_to(paths.normalizer, {split: (paths.normalized(split), paths.features(split)) for split in SPLITS})
    stages.done("engineer-features")
    return stages.seconds


def _vocabulary(values: list, counts: list) -> list[str]:
    """Most frequent first (ties by value), at most MAX_CATEGORIES, missing cells not a category."""
    pairs = sorted(((c, v) for v, c in zip(values, counts) if v is not None), key=lambda p: (-p[0], p[1]))
    return [v for _, v in pairs[:MAX_CATEGORIES]]


def run_polars(file: Path, work: Path, seed: int) -> dict[str, float]:
    """The same work in Polars: lazy scans, expressions, streaming sinks."""
    import polars as pl

    stages = Stages()
    numeric, text = feature_names(pq.read_schema(file))
    source = pl.scan_parquet(file)
    bad = source.select([(pl.col(n).is_null() | pl.col(n).is_nan()).sum().alias(n) for n in numeric]
                        + [pl.col(LABEL).is_null().sum().alias(LABEL)]).collect()
    if any(bad.row(0)):
        raise ValueError(f"missing or NaN cells: {bad.to_dicts()[0]}")
    stages.done("validate")
    raw = work / "raw.parquet"
    source.sink_parquet(raw)
    stages.done("raw copy")
    # the split as a hash of each row's content and the seed, cut at two thresholds (as eagergraph's split.py; the
    # engine's own hash, so the same work, not the same rows)
    u = pl.struct(pl.all()).hash(seed).cast(pl.Float64) / 2.0**64
    rows = pl.scan_parquet(raw).with_columns(u.alias("u"))
    splits = {"train": rows.filter(pl.col("u") >= TEST_FRACTION + VALIDATION_FRACTION),
              "validation": rows.filter(pl.col("u").is_between(TEST_FRACTION, TEST_FRACTION + VALIDATION_FRACTION,
                                                               closed="left")),
              "test": rows.filter(pl.col("u") < TEST_FRACTION)}
    splits = {name: frame.drop("u") for name, frame in splits.items()}
    train = splits["train"]
    stats_query = train.select([pl.col(n).mean().alias(f"{n}_mean") for n in numeric]
                               + [pl.col(n).std(ddof=0).alias(f"{n}_std") for n in numeric])
    stats, *counts = pl.collect_all([stats_query, *(train.group_by(name).len() for name in text)])
    stats = stats.row(0, named=True)
    vocab = {name: _vocabulary(c[name].to_list(), c["len"].to_list()) for name, c in zip(text, counts)}
    stages.done("split + train statistics")
    z = [((pl.col(n) - stats[f"{n}_mean"]) / (stats[f"{n}_std"] or 1.0)).cast(pl.Float32).alias(n) for n in numeric]
    squares = [(pl.col(n) ** 2).alias(f"{n}_sq") for n in numeric]
    one_hot = []
    for name, values in vocab.items():
        one_hot += [(pl.col(name) == v).fill_null(False).cast(pl.Float32).alias(f"{name}={v}") for v in values]
        one_hot += [(pl.col(name).is_not_null() & ~pl.col(name).is_in(values)).cast(pl.Float32).alias(f"{name}=<unseen>"),
                    pl.col(name).is_null().cast(pl.Float32).alias(f"{name}=<missing>")]
    sinks = [splits["test"].sink_parquet(work / "test_raw.parquet", lazy=True)]
    for split, frame in splits.items():  # one plan: the shared scan is read once
        normalized = frame.select([*z, *text, LABEL])
        sinks.append(normalized.sink_parquet(work / f"normalized-{split}.parquet", lazy=True))
        sinks.append(normalized.select([*numeric, *squares, *one_hot, LABEL])
                     .sink_parquet(work / f"features-{split}.parquet", lazy=True))
    pl.collect_all(sinks)
    stages.done("normalized + features + raw test")
    train_rows = pl.scan_parquet(work / "normalized-train.parquet").select(pl.len()).collect().item()
    at = [round(q * (train_rows - 1)) for q in DECILES]  # one sort per column, nine values read from it
    quantiles = pl.scan_parquet(work / "normalized-train.parquet").select(
        [pl.col(n).sort().gather(at).implode() for n in numeric]).collect()
    (work / "deciles.json").write_text(json.dumps(quantiles.row(0, named=True)))
    stages.done("deciles")
    return stages.seconds


def run_duckdb(file: Path, work: Path, seed: int) -> dict[str, float]:
    """The same work in DuckDB SQL."""
    import duckdb

    stages = Stages()
    numeric, text = feature_names(pq.read_schema(file))
    db = duckdb.connect()
    src = f"read_parquet('{file}')"
    bad = db.execute("SELECT " + ", ".join([f"count(*) FILTER (WHERE {n} IS NULL OR isnan({n}))" for n in numeric]
                                           + [f"count(*) FILTER (WHERE {LABEL} IS NULL)"]) + f" FROM {src}").fetchone()
    if any(bad):
        raise ValueError(f"missing or NaN cells: {bad}")
    stages.done("validate")
    raw = work / "raw.parquet"
    db.execute(f"COPY (SELECT * FROM {src}) TO '{raw}' (FORMAT parquet)")
    stages.done("raw copy")
    # the split as a hash of each row's content and the seed, cut at two thresholds (as eagergraph's split.py)
    columns = ", ".join([*numeric, *text, LABEL])
    db.execute(f"""CREATE TEMP TABLE rows AS SELECT *, hash({columns}, {seed}) / 18446744073709551616.0 AS u
                   FROM read_parquet('{raw}', file_row_number = true)""")
    train_where = f"u >= {TEST_FRACTION + VALIDATION_FRACTION}"
    stats = db.execute("SELECT " + ", ".join(f"avg({n}), stddev_pop({n})" for n in numeric)
                       + f" FROM rows WHERE {train_where}").fetchone()
    vocab = {}
    for name in text:
        counts = db.execute(f"SELECT {name}, count(*) FROM rows WHERE {train_where} GROUP BY {name}").fetchall()
        vocab[name] = _vocabulary([v for v, _ in counts], [c for _, c in counts])
    stages.done("split + train statistics")
    z = [f"CAST(({n} - {stats[2 * j]}) / {stats[2 * j + 1] or 1.0} AS FLOAT) AS {n}" for j, n in enumerate(numeric)]
    squares = [f"{n} * {n} AS {n}_sq" for n in numeric]
    one_hot = []
    for name, values in vocab.items():
        listed = ", ".join(f"'{v}'" for v in values)
        one_hot += [f"CAST(coalesce({name} = '{v}', false) AS FLOAT) AS \"{name}={v}\"" for v in values]
        one_hot += [f"CAST({name} IS NOT NULL AND {name} NOT IN ({listed}) AS FLOAT) AS \"{name}=<unseen>\"",
                    f"CAST({name} IS NULL AS FLOAT) AS \"{name}=<missing>\""]
    test_where = f"u < {TEST_FRACTION}"
    for split, where in (("train", train_where), ("validation", f"u >= {TEST_FRACTION} AND NOT ({train_where})"),
                         ("test", test_where)):
        normalized = work / f"normalized-{split}.parquet"
        db.execute(f"COPY (SELECT {', '.join([*z, *text, LABEL])} FROM rows WHERE {where} ORDER BY file_row_number) "
                   f"TO '{normalized}' (FORMAT parquet)")
        db.execute(f"COPY (SELECT {', '.join([*numeric, *squares, *one_hot, LABEL])} FROM read_parquet('{normalized}')) "
                   f"TO '{work / f'features-{split}.parquet'}' (FORMAT parquet)")
    db.execute(f"COPY (SELECT {columns} FROM rows WHERE {test_where} ORDER BY file_row_number) TO '{work / 'test_raw.parquet'}' "
               "(FORMAT parquet)")
    stages.done("normalized + features + raw test")
    deciles = db.execute("SELECT " + ", ".join(f"quantile_cont({n}, {DECILES})" for n in numeric)
                         + f" FROM read_parquet('{work / 'normalized-train.parquet'}')").fetchone()
    (work / "deciles.json").write_text(json.dumps(dict(zip(numeric, deciles))))
    stages.done("deciles")
    return stages.seconds


def run_pyarrow(file: Path, work: Path, seed: int) -> dict[str, float]:
    """The floor: read the file and write it once."""
    stages = Stages()
    pq.write_table(pq.read_table(file), work / "copy.parquet")
    stages.done("read + write")
    return stages.seconds


RUNNERS = {"eagergraph": run_eagergraph, "polars": run_polars, "duckdb": run_duckdb, "pyarrow": run_pyarrow}


def child(contender: str, file: Path, seed: int) -> dict:
    """One contender in this (fresh) process, in a temporary folder it removes; its stages, total and peak RSS."""
    with tempfile.TemporaryDirectory(prefix=f"eagergraph-bench-{contender}-") as work:
        cpu = time.process_time()
        try:
            seconds = RUNNERS[contender](file, Path(work), seed)
        except Exception as exc:  # reported in the table, never skipped
            return {"contender": contender, "error": f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"}
        cpu = time.process_time() - cpu  # every thread of the process: an engine's own threads count too
    return {"contender": contender, "seconds": seconds, "total": sum(seconds.values()), "cpu": cpu,
            "peak_rss": peak_rss_bytes(), "load": os.getloadavg()[0]}


def measure(contender: str, file: Path, seed: int) -> dict:
    """A contender in a fresh interpreter, so its peak memory is its own."""
    done = subprocess.run([sys.executable, __file__, "--child", contender, "--file", str(file), "--seed", str(seed)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        lines = [line for line in (done.stderr or done.stdout).splitlines() if line.strip()]
        return {"contender": contender, "error": lines[-1] if lines else f"exit status {done.returncode}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def fastest(kept: dict | None, new: dict) -> dict:
    """The better of two measurements of one contender: the faster, and any success over a failure."""
    if kept is None or "error" in kept:
        return new
    return kept if "error" in new or kept["total"] <= new["total"] else new


def whole_command(file: Path, artifacts: Path, name: str = "eagergraph run (whole command)") -> dict:
    """`eagergraph run` on the file, timed from a process of its own: wall seconds and the command's peak RSS."""
    command = [*eagergraph_command(), "run", "--data", str(file),
               "--label", LABEL, "--modes", "graph", "--batch-size", "1024", "--epochs", "1", "--artifacts", str(artifacts),
               "--json"]
    timer = ("import json, os, resource, subprocess, sys, time; t = time.perf_counter(); "
             "done = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
             "print(json.dumps({'rc': done.returncode, 'wall': time.perf_counter() - t, 'err': done.stderr[-400:], "
             "'out': (done.stdout.strip().splitlines() or [''])[-1], "
             "'peak_rss': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024, "
             "'cpu': sum(resource.getrusage(resource.RUSAGE_CHILDREN)[:2]), 'load': os.getloadavg()[0]}))")
    done = subprocess.run([sys.executable, "-c", timer, *command], capture_output=True, text=True, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result["rc"] != 0:
        lines = [line for line in result["err"].splitlines() if line.strip()]
        return {"contender": name, "error": lines[-1] if lines else f"exit {result['rc']}"}
    stages = json.loads(result["out"]).get("stage_seconds", {})  # `--json`: the flow's own time per stage
    rest = result["wall"] - sum(stages.values())  # start-up, imports, server calls, manifest, shutdown
    return {"contender": name, "seconds": {**stages, "outside the stages": rest},
            "total": result["wall"], "cpu": result["cpu"], "load": result["load"], "peak_rss": result["peak_rss"]}


# ---------------------------------------------------------------- the table


def format_table(results: list[dict], rows: int) -> str:
    """One Markdown line per contender: seconds, rows/s, peak RSS and seconds per stage (or its error)."""
    lines = ["| contender | seconds | CPU seconds | load | rows/s | peak RSS | seconds per stage |",
             "|---|---:|---:|---:|---:|---:|---|"]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['contender']} | – | – | – | – | – | failed: {r['error'].replace('|', '/')} |")
            continue
        stages = ", ".join(f"{name} {seconds:.2f}" for name, seconds in r["seconds"].items())
        cpu = f"{r['cpu']:.2f}" if r.get("cpu") is not None else "–"
        load = f"{r['load']:.1f}" if r.get("load") is not None else "–"
        lines.append(f"| {r['contender']} | {r['total']:.2f} | {cpu} | {load} | {rows / max(r['total'], 1e-9):,.0f} | "
                     f"{r['peak_rss'] / 2**30:.2f} GiB | {stages} |")
    return "\n".join(lines)


def cache_hit_line(first: dict, hit: dict) -> str:
    """Each cached stage's seconds on the identical second run, as a share of its first run."""
    if "error" in first or "error" in hit:
        return "cache hit: not measured (a run failed)"
    shares = [f"{stage} {hit['seconds'][stage]:.3f} s of {first['seconds'][stage]:.2f} s "
              f"({100 * hit['seconds'][stage] / max(first['seconds'][stage], 1e-9):.0f} %)"
              for stage in CACHED_STAGES if stage in first["seconds"] and stage in hit["seconds"]]
    return "cache hit: " + ", ".join(shares)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (a child process gets --child, --file and --seed only)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000, help="rows of the generated file (default 10M)")
    parser.add_argument("--features", type=int, default=10, help="float feature columns (default 10)")
    parser.add_argument("--categorical", type=int, default=0, help="categorical text columns of 5–20 values (default 0)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--contenders", default=",".join(CONTENDERS), help=f"comma-separated, from: {', '.join(CONTENDERS)}")
    parser.add_argument("--repeat", type=int, default=1, help="rounds over the contenders; each keeps its fastest (default 1)")
    parser.add_argument("--whole-command", action="store_true", help="also time `eagergraph run` on the file")
    parser.add_argument("--file", type=Path, default=None, help="use this file instead of generating one")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here as JSON")
    parser.add_argument("--child", choices=CONTENDERS, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.contenders = [c.strip() for c in args.contenders.split(",") if c.strip()]
    unknown = [c for c in args.contenders if c not in CONTENDERS]
    if unknown:
        parser.error(f"--contenders: unknown {', '.join(unknown)}; known: {', '.join(CONTENDERS)}")
    if args.rows < 10 or args.features < 1 or args.categorical < 0 or args.repeat < 1:
        parser.error("--rows must be at least 10, --features and --repeat at least 1, --categorical at least 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.file, args.seed)))
        return 0
    with tempfile.TemporaryDirectory(prefix="eagergraph-data-path-") as folder:
        file = args.file or Path(folder) / "data.parquet"
        if args.file is None:
            started = time.perf_counter()
            generate(file, args.rows, args.features, args.categorical, args.seed)
            print(f"generated {args.rows:,} rows × {args.features} float + {args.categorical} categorical columns in "
                  f"{time.perf_counter() - started:.1f} s ({file.stat().st_size / 2**20:.0f} MiB)", file=sys.stderr)
        rows = pq.ParquetFile(file).metadata.num_rows
        best: dict[str, dict] = {}
        for _ in range(args.repeat):  # rounds over all contenders, so a busy spell of the machine hits each alike
            for contender in args.contenders:
                result = measure(contender, file, args.seed)
                print(json.dumps(result), file=sys.stderr, flush=True)
                best[contender] = fastest(best.get(contender), result)
        results = [best[contender] for contender in args.contenders]
        if args.whole_command:
            results.append(whole_command(file, Path(folder) / "artifacts"))
            results.append(whole_command(file, Path(folder) / "artifacts", "eagergraph run again (cache hit)"))
    print(format_table(results, rows))
    if args.whole_command:
        print(cache_hit_line(results[-2], results[-1]))
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "features": args.features, "categorical": args.categorical,
                                         "results": results}, indent=2))
    return failed(results)


def failed(results: list[dict]) -> int:
    """Exit status: 1 when any contender failed (each named on stderr), so a broken row never passes as a result."""
    errors = [r for r in results if "error" in r]
    for r in errors:
        print(f"data_path: {r['contender']} failed: {r['error']}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())

"""A folder of Parquet partitions, processed partition by partition (in parallel on the task runner).

Each partition is validated, cleaned, split (stratified, seeded by the partition's index) and reduced to the
train rows' moments on its own; the merge combines the moments exactly (Chan's parallel formula, in partition
order, so the statistics equal one pass over all train rows) and writes the same artifacts as ingest and
normalize do for a single file: raw.parquet, normalizer.json and the normalized splits.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from eagergraph.data.columns import FEATURES_KEY, choose_columns, raw_schema
from eagergraph.data.ingest import CLASSES_KEY, _Checks, clean_batches, open_dataset, validate
from eagergraph.data.io import LABEL, ParquetSink, iter_batches
from eagergraph.data.labels import encode_label, order_classes
from eagergraph.data.normalize import Normalizer, RunningMoments, _column_moments, check_split, stratified_test_mask, write_splits
from eagergraph.errors import DataError
from eagergraph.io import write_json
from eagergraph.rundir.paths import RunPaths

IS_TEST = "__is_test"  # a partition file's split flag, dropped when the partitions are merged


def partition_files(data: Path | None) -> list[str]:
    """The Parquet files of a folder in a fixed (sorted) order; empty unless `data` is a folder of two or more."""
    if data is None or not Path(data).is_dir():
        return []
    files = sorted(open_dataset(Path(data)).files)
    return files if len(files) > 1 else []


def partition_split(labels: np.ndarray, test_fraction: float, seed: int, index: int) -> np.ndarray:
    """The partition's test mask: stratified by its own label values, seeded by (seed, partition index)."""
    _, codes = np.unique(labels, return_inverse=True)
    return stratified_test_mask(codes.reshape(-1), test_fraction, seed * 1_000_003 + index)  # distinct per (seed, index)


def ingest_partition_to(out: Path, folder: Path, file: str, index: int, label: str, features: list[str] | None,
                        test_fraction: float, seed: int, drop_invalid: bool = False,
                        exclude: list[str] | None = None) -> dict:
    """Clean and split one partition; write it with its split flag; return its checks and train-row moments."""
    started = time.perf_counter()
    dataset = open_dataset(folder)
    selection = choose_columns(dataset, label, features, exclude, folder)  # the whole folder: ids are unique across it
    names = selection.features
    checks = _Checks()
    schema = raw_schema(dataset.schema, selection, dataset.schema.field(label).type)
    table = pa.Table.from_batches(list(clean_batches(ds.dataset(file, format="parquet", schema=dataset.schema), label,
                                                     names, drop_invalid, checks, Path(file), selection.passthrough)),
                                  schema=schema)
    labels = table.column(LABEL).to_numpy(zero_copy_only=False)
    mask = partition_split(labels, test_fraction, seed, index) if len(labels) else np.zeros(0, bool)
    train = [table.column(name).to_numpy()[~mask] for name in names]
    count, mean, m2 = _column_moments(train)
    out.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table.append_column(IS_TEST, pa.array(mask)), out)
    return {"file": file, "index": index, "features": names, "rows": checks.rows,
            "classes": sorted(checks.classes, key=str), "invalid": checks.invalid, "dropped": checks.dropped,
            "left_out": selection.left_out, "passthrough": selection.passthrough,
            "count": count, "mean": mean.tolist(), "m2": m2.tolist(), "seconds": time.perf_counter() - started,
            "pid": os.getpid()}


def merge_moments(parts: list[dict], n_columns: int) -> RunningMoments:
    """Merge the partitions' moments in partition order: equal to one streaming pass over all train rows."""
    moments = RunningMoments(n_columns)
    for part in sorted(parts, key=lambda p: p["index"]):
        moments.merge(part["count"], np.asarray(part["mean"]), np.asarray(part["m2"]))
    return moments


def describe_partitioned(merged: dict, parts: list[dict], ingest_seconds: float) -> dict:
    """The merged partitions described like ingest's result: throughput over all partitions, and where each ran."""
    return {**merged, "rows_per_second": merged["rows"] / max(ingest_seconds, 1e-9),
            "partitions": [{key: part[key] for key in ("file", "rows", "pid")} for part in parts]}


def merge_partitions_to(run_dir: Path, parts: list[dict], folder: Path, label: str, drop_invalid: bool,
                        positive_class: str | None = None) -> dict:
    """Validate the partitions together, write raw.parquet, normalizer.json and the splits; drop the partition files."""
    started = time.perf_counter()
    paths = RunPaths.of(run_dir)
    parts = sorted(parts, key=lambda p: p["index"])
    checks = _Checks(classes={c for p in parts for c in p["classes"]}, dropped=sum(p["dropped"] for p in parts),
                     rows=sum(p["rows"] for p in parts))
    for part in parts:
        for name, count in part["invalid"].items():
            checks.invalid[name] = checks.invalid.get(name, 0) + count
    if len(checks.classes) > 2:
        raise DataError(f"{folder}: label column {label!r} has more than two distinct values across partitions; a binary label is needed")
    classes = order_classes(validate(checks, label, drop_invalid, folder), positive_class, label, folder)
    names = parts[0]["features"]
    schema = pq.read_schema(paths.raw_part(parts[0]["index"])).remove_metadata()  # features, label, passthrough, split flag
    schema = schema.remove(schema.get_field_index(IS_TEST)).set(schema.get_field_index(LABEL), pa.field(LABEL, pa.int8()))
    masks = []
    metadata = {CLASSES_KEY: json.dumps(classes, default=str), FEATURES_KEY: json.dumps(names)}
    with ParquetSink(paths.raw, schema.with_metadata(metadata)) as raw:
        for part in parts:
            for batch in iter_batches(paths.raw_part(part["index"])):
                masks.append(batch.column(IS_TEST).to_numpy(zero_copy_only=False))
                raw.write(encode_label(batch.drop_columns([IS_TEST]), classes).cast(schema))
    mask = np.concatenate(masks)
    check_split(pq.read_table(paths.raw, columns=[LABEL]).column(LABEL).to_numpy(), mask, folder)
    moments = merge_moments(parts, len(names))
    normalizer = Normalizer(names, moments.mean.tolist(), moments.std().tolist(), classes, int((~mask).sum()), int(mask.sum()))
    write_splits(paths.raw, paths, normalizer, mask)
    write_json(paths.normalizer, asdict(normalizer))
    shutil.rmtree(paths.raw_part(0).parent, ignore_errors=True)
    seconds = time.perf_counter() - started
    return {"rows": checks.rows, "features": names, "classes": classes, "positive_class": classes[1],
            "left_out": parts[0]["left_out"], "passthrough": parts[0]["passthrough"], "dropped_rows": checks.dropped,
            "invalid_values": checks.invalid,
            "train_rows": normalizer.train_rows, "test_rows": normalizer.test_rows, "partitions": len(parts),
            "seconds": seconds, "rows_per_second": checks.rows / max(seconds, 1e-9)}

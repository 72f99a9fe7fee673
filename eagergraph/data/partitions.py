"""A folder of Parquet partitions, processed partition by partition (in parallel on the task runner).

Each partition is validated and cleaned on its own, with the column kinds decided once over the whole folder
(`decide_kinds`, one scan) and handed to every partition; the merge concatenates them into raw.parquet and then
splits and normalizes it exactly as a single file's normalize does (a row's split is a function of the row, so the
partitions' rows fall where the same rows of one file would; one pass over the train rows), writing the same
artifacts: raw.parquet, normalizer.json, the normalized splits and the drift profile.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import asdict
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from eagergraph.data.ingest import _Checks, clean_batches, select_from, validate
from eagergraph.data.io import LABEL, ParquetSink, iter_batches, write_batches
from eagergraph.data.labels import LabelValues, encode_task_label, label_type
from eagergraph.data.normalize import SplitFiles, describe_normalizer, drawn_split, normalize_with_codes, split_rule
from eagergraph.data.raw_metadata import raw_metadata
from eagergraph.data.reader import open_dataset
from eagergraph.data.selection import Selection, raw_schema, split_key
from eagergraph.data.task import positive_of, resolve_task, task_classes
from eagergraph.metrics import task_of


def partition_files(data: Path | None) -> list[str]:
    """The Parquet files of a folder in a fixed (sorted) order; empty unless `data` is a folder of two or more."""
    if data is None or not Path(data).is_dir():
        return []
    files = sorted(open_dataset(Path(data)).files)
    return files if len(files) > 1 else []


def decide_kinds(folder: Path, label: str, features: list[str] | None, exclude: list[str] | None = None,
                 categorical: list[str] | None = None, max_categories: int = 50, task: str = "auto",
                 max_classes: int = 50, id_column: str | None = None) -> dict:
    """Each column's kind and the task over the whole folder (ids are unique across it, categories and label values
    counted across it), decided once per run: the folder is scanned here only, and every partition gets this
    JSON-able decision ({"selection": Selection's fields, "task", "task_reason"})."""
    dataset = open_dataset(folder)
    label_checks = _Checks(classes=LabelValues(max_classes))
    selection, _ = select_from(dataset, folder, label, features, exclude, categorical, max_categories, label_checks,
                               id_column)
    task, reason, _ = resolve_task(task, label_checks.classes, dataset.schema.field(label).type, max_classes, label,
                                   None, folder)
    return {"selection": asdict(selection), "task": task, "task_reason": reason, "split_key": split_key(selection)}


def ingest_partition_to(out: Path, folder: Path, file: str, index: int, label: str, features: list[str] | None,
                        drop_invalid: bool = False, exclude: list[str] | None = None,
                        categorical: list[str] | None = None, max_categories: int = 50, impute: str = "none",
                        task: str = "auto", max_classes: int = 50, kinds: dict | None = None) -> dict:
    """Clean one partition with the folder's column kinds and task (`decide_kinds`'s result; decided here when not
    given); write it; return its checks."""
    started = time.perf_counter()
    dataset = open_dataset(folder)
    if kinds is None:
        kinds = decide_kinds(folder, label, features, exclude, categorical, max_categories, task, max_classes)
    selection, task, reason = Selection(**kinds["selection"]), kinds["task"], kinds["task_reason"]
    checks = _Checks(classes=LabelValues(max_classes))  # the bound the folder's task was decided with
    schema = raw_schema(dataset.schema, selection, dataset.schema.field(label).type)
    part = ds.dataset(file, format=dataset.format, schema=dataset.schema)  # the folder's reads: text as dictionaries
    out.parent.mkdir(parents=True, exist_ok=True)
    write_batches(out, schema, clean_batches(dataset, label, selection, drop_invalid, impute, checks, Path(file), files=part))
    return {"file": file, "index": index, "features": selection.features, "categorical": selection.categorical,
            "rows": checks.rows, "classes": sorted(checks.classes), "invalid": checks.invalid,
            "task": task, "task_reason": reason, "max_classes": max_classes, "split_key": kinds.get("split_key"),
            "missing": checks.missing, "dropped": checks.dropped, "left_out": selection.left_out,
            "passthrough": selection.passthrough, "seconds": time.perf_counter() - started, "pid": os.getpid()}


def describe_partitioned(merged: dict, parts: list[dict], ingest_seconds: float) -> dict:
    """The merged partitions described like ingest's result: throughput over all partitions, and where each ran."""
    return {**merged, "rows_per_second": merged["rows"] / max(ingest_seconds, 1e-9),
            "partitions": [{key: part[key] for key in ("file", "rows", "pid")} for part in parts]}


def _summed(parts: list[dict], key: str) -> dict[str, int]:
    total: dict[str, int] = {}
    for part in parts:
        for name, count in part[key].items():
            total[name] = total.get(name, 0) + count
    return total


def merge_partitions_to(raw: Path, part_files: list[Path], files: SplitFiles, parts: list[dict], folder: Path, label: str,
                        drop_invalid: bool, positive_class: str | None = None, max_categories: int = 50,
                        impute: str = "none", test_fraction: float = 0.2, validation_fraction: float = 0.1,
                        seed: int = 42) -> dict:
    """Validate the partitions together, write raw.parquet, then split and normalize it exactly like a single file;
    drop the partition files. `part_files` are in the order of `parts`' indexes."""
    started = time.perf_counter()
    order = sorted(range(len(parts)), key=lambda i: parts[i]["index"])
    parts, part_files = [parts[i] for i in order], [part_files[i] for i in order]
    values = LabelValues(parts[0].get("max_classes", 50))
    for part in parts:
        values.update(part["classes"])
    checks = _Checks(classes=values, dropped=sum(p["dropped"] for p in parts),
                     rows=sum(p["rows"] for p in parts), invalid=_summed(parts, "invalid"), missing=_summed(parts, "missing"))
    task = task_of(parts[0])  # every partition chose it from the whole folder's label
    validate(checks, label, drop_invalid, folder, impute)
    classes = task_classes(task, values, positive_class, label, folder)
    names = parts[0]["features"]
    schema = pq.read_schema(part_files[0]).remove_metadata()  # features, label, passthrough
    schema = schema.set(schema.get_field_index(LABEL), pa.field(LABEL, label_type(task)))
    metadata = raw_metadata(classes, str(folder), names, impute, max_categories, checks.missing, task,
                            parts[0].get("split_key"))
    with ParquetSink(raw, schema.with_metadata(metadata)) as sink:
        for part_file in part_files:
            for batch in iter_batches(part_file):
                sink.write(encode_task_label(batch, task, classes).cast(schema))
    rule = split_rule(pq.read_schema(raw), seed, test_fraction, validation_fraction)
    normalizer = normalize_with_codes(raw, files, drawn_split(raw, rule), rule)
    shutil.rmtree(part_files[0].parent, ignore_errors=True)
    seconds = time.perf_counter() - started
    return {"rows": checks.rows, "features": names, "categorical": parts[0]["categorical"], "classes": classes,
            "task": task, "task_reason": parts[0].get("task_reason"),
            "positive_class": positive_of(task, classes), "left_out": parts[0]["left_out"], "passthrough": parts[0]["passthrough"],
            "dropped_rows": checks.dropped, "invalid_values": checks.invalid, "missing_values": checks.missing,
            "impute": impute, "distinct": {spec["name"]: spec.get("distinct", len(spec["vocabulary"])) for spec in normalizer.categorical},
            "source": str(folder), **describe_normalizer(normalizer), "partitions": len(parts),
            "seconds": seconds, "rows_per_second": checks.rows / max(seconds, 1e-9)}

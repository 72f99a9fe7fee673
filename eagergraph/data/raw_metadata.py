"""raw.parquet's metadata: what ingest (or the merge of a folder's partitions) records for the later stages, written
by one function and read back by normalize."""

from __future__ import annotations

import json

from eagergraph.data.selection import FEATURES_KEY
from eagergraph.metrics import DEFAULT_TASK, Task, task_of

CLASSES_KEY = b"eagergraph.classes"  # raw.parquet metadata: the user's label values that became 0 and 1
SOURCE_KEY = b"eagergraph.source"  # raw.parquet metadata: the user's file, so later stages' errors can name it
IMPUTE_KEY = b"eagergraph.impute"  # raw.parquet metadata: --impute, applied by normalize on the train split
MAX_CATEGORIES_KEY = b"eagergraph.max_categories"  # raw.parquet metadata: the vocabulary cap normalize applies
MISSING_KEY = b"eagergraph.missing"  # raw.parquet metadata: missing cells per numeric feature (which ones impute)
TASK_KEY = b"eagergraph.task"  # raw.parquet metadata: binary, multiclass or regression (absent: the default task)
SPLIT_KEY = b"eagergraph.split_key"  # raw.parquet metadata: the row id column(s) that key the split (absent: content)


def raw_metadata(classes: list, source: str, features: list[str], impute: str, max_categories: int,
                 missing: dict[str, int], task: str, split_key: list[str] | None) -> dict:
    """raw.parquet's metadata. A snapshot of the default task records no task (and one without row ids no split
    key), so it stays byte for byte what it was before tasks."""
    metadata = {CLASSES_KEY: json.dumps(classes, default=str), SOURCE_KEY: source,
                FEATURES_KEY: json.dumps(features), IMPUTE_KEY: impute,
                MAX_CATEGORIES_KEY: str(max_categories), MISSING_KEY: json.dumps(missing)}
    if task != DEFAULT_TASK:
        metadata[TASK_KEY] = task
    if split_key:
        metadata[SPLIT_KEY] = json.dumps(split_key)
    return metadata


def raw_task(metadata: dict | None) -> Task:
    """The task raw.parquet's metadata records (snapshots written before tasks: the default)."""
    return task_of(metadata or {}, TASK_KEY)

"""ingest-partition: the Prefect task over eagergraph.data.partitions.ingest_partition_to (one partition of a folder)."""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task

from eagergraph.data.partitions import ingest_partition_to
from eagergraph.rundir.paths import RunPaths


@task(name="ingest-partition")
def ingest_partition(run_dir: str, folder: str, file: str, index: int, label: str, features: list[str] | None,
                     drop_invalid: bool = False, exclude: list[str] | None = None,
                     categorical: list[str] | None = None, max_categories: int = 50, impute: str = "none",
                     task: str = "auto", max_classes: int = 50, kinds: dict | None = None) -> dict:
    """Validate and clean one partition of the input folder, with the folder's column kinds and task."""
    result = ingest_partition_to(RunPaths.of(run_dir).raw_part(index), Path(folder), file, index, label, features,
                                 drop_invalid, exclude, categorical, max_categories, impute,
                                 task, max_classes, kinds)
    get_run_logger().info(f"partition {index}: {result['rows']} rows from {Path(file).name} (pid {result['pid']})")
    return result

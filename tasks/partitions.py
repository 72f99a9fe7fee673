"""partitions: the Prefect task over eagergraph.data.partitions."""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task

from eagergraph.data.partitions import ingest_partition_to, merge_partitions_to
from eagergraph.rundir.paths import RunPaths


@task(name="ingest-partition")
def ingest_partition(run_dir: str, folder: str, file: str, index: int, label: str, features: list[str] | None,
                     test_fraction: float, seed: int, drop_invalid: bool = False, exclude: list[str] | None = None) -> dict:
    """Validate, clean and split one partition of the input folder; reduce its train rows to moments."""
    result = ingest_partition_to(RunPaths.of(run_dir).raw_part(index), Path(folder), file, index, label, features,
                                 test_fraction, seed, drop_invalid, exclude)
    get_run_logger().info(f"partition {index}: {result['rows']} rows from {Path(file).name} (pid {result['pid']})")
    return result


@task(name="merge-partitions")
def merge_partitions(run_dir: str, parts: list[dict], folder: str, label: str, drop_invalid: bool = False,
                     positive_class: str | None = None) -> dict:
    """Merge the partitions' statistics exactly and write raw.parquet, normalizer.json and both splits."""
    result = merge_partitions_to(Path(run_dir), parts, Path(folder), label, drop_invalid, positive_class)
    get_run_logger().info(f"merged {result['partitions']} partitions: {result['train_rows']} train / "
                          f"{result['test_rows']} test rows; statistics merged from the partitions' moments")
    return result

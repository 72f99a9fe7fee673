"""partitions: the Prefect tasks over eagergraph.data.partitions."""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task

from eagergraph.data.partitions import decide_kinds, ingest_partition_to, merge_partitions_to
from eagergraph.rundir.paths import RunPaths
from eagergraph.tasks.normalize import split_files, split_line


@task(name="partition-kinds")
def partition_kinds(folder: str, label: str, features: list[str] | None, exclude: list[str] | None = None,
                    categorical: list[str] | None = None, max_categories: int = 50, task: str = "auto",
                    max_classes: int = 50, id_column: str | None = None) -> dict:
    """Decide every column's kind and the task once over the whole input folder, for all its partitions."""
    kinds = decide_kinds(Path(folder), label, features, exclude, categorical, max_categories, task, max_classes,
                         id_column)
    selection = kinds["selection"]
    get_run_logger().info(f"column kinds over the folder: {len(selection['features'])} features "
                          f"({len(selection['categorical'])} categorical), {len(selection['left_out'])} left out; "
                          f"task: {kinds['task']} ({kinds['task_reason']})")
    return kinds


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


@task(name="merge-partitions")
def merge_partitions(run_dir: str, parts: list[dict], folder: str, label: str, drop_invalid: bool = False,
                     positive_class: str | None = None, max_categories: int = 50, impute: str = "none",
                     test_fraction: float = 0.2, validation_fraction: float = 0.1, seed: int = 42) -> dict:
    """Merge the partitions into raw.parquet, split and normalize it: normalizer.json, the splits, the drift profile."""
    paths = RunPaths.of(run_dir)
    part_files = [paths.raw_part(part["index"]) for part in parts]
    result = merge_partitions_to(paths.raw, part_files, split_files(paths), parts, Path(folder), label, drop_invalid,
                                 positive_class, max_categories, impute, test_fraction, validation_fraction, seed)
    get_run_logger().info(f"merged {result['partitions']} partitions: {split_line(result)}; statistics fitted on the "
                          "train rows only")
    return result

"""merge-partitions: the Prefect task over eagergraph.data.partitions.merge_partitions_to (raw.parquet from the
partitions, then split and normalized as one file's normalize does)."""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task

from eagergraph.data.partitions import merge_partitions_to
from eagergraph.rundir.paths import RunPaths
from eagergraph.tasks.normalize import split_files, split_line


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

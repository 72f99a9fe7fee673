"""partition-kinds: the Prefect task over eagergraph.data.partitions.decide_kinds (a folder of partitions)."""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task

from eagergraph.data.partitions import decide_kinds


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

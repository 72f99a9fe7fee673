"""ingest: the Prefect task over eagergraph.data.ingest."""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task

from eagergraph.config import PipelineConfig
from eagergraph.data.ingest import ingest_message, ingest_to
from eagergraph.orchestration.caching import data_input, is_transient, publish, stage_options
from eagergraph.rundir.paths import RunPaths

_DEFAULTS = PipelineConfig()  # retries as configured: the flow sets them from its config, callers get the defaults


@task(name="ingest", retries=_DEFAULTS.ingest_retries, retry_delay_seconds=_DEFAULTS.ingest_retry_delay,
      retry_condition_fn=is_transient,
      **stage_options(data_input, exclude=["data"]))
def ingest(run_dir: str, data: str | None, label: str, features: list[str] | None, rows: int, n_features: int,
           seed: int, drop_invalid: bool = False, exclude: list[str] | None = None,
           positive_class: str | None = None, categorical: list[str] | None = None, max_categories: int = 50,
           impute: str = "none", task: str = "auto", max_classes: int = 50, id_column: str | None = None) -> dict:
    """Snapshot the input data into the run directory as raw.parquet, each column's kind decided and reported."""
    result = ingest_to(RunPaths.of(run_dir).raw, Path(data) if data else None, label, features, rows, n_features, seed,
                       drop_invalid, exclude, positive_class, categorical, max_categories, impute, task, max_classes,
                       id_column)
    get_run_logger().info(ingest_message(result))
    return publish(run_dir, result, [RunPaths.of(run_dir).raw])

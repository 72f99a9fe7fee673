"""ingest: the Prefect task over eagergraph.data.ingest."""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task

from eagergraph.config import PipelineConfig
from eagergraph.data.ingest import ingest_to
from eagergraph.orchestration.caching import data_input, is_transient, publish, stage_options
from eagergraph.rundir.paths import RunPaths

_DEFAULTS = PipelineConfig()  # retries as configured: the flow sets them from its config, callers get the defaults


@task(name="ingest", retries=_DEFAULTS.ingest_retries, retry_delay_seconds=_DEFAULTS.ingest_retry_delay,
      retry_condition_fn=is_transient,
      **stage_options(data_input, exclude=["data"]))
def ingest(run_dir: str, data: str | None, label: str, features: list[str] | None, rows: int, n_features: int,
           seed: int, drop_invalid: bool = False, exclude: list[str] | None = None,
           positive_class: str | None = None) -> dict:
    """Snapshot the input data into the run directory as raw.parquet."""
    result = ingest_to(RunPaths.of(run_dir).raw, Path(data) if data else None, label, features, rows, n_features, seed,
                       drop_invalid, exclude, positive_class)
    message = f"ingested {result['rows']} rows × {len(result['features'])} features from {result['source']}"
    if result["dropped_rows"]:
        counts = ", ".join(f"{name}: {count}" for name, count in result["invalid_values"].items())
        message += f" (dropped {result['dropped_rows']} rows with missing, NaN or infinite values: {counts})"
    left_out = [f"{name} ({why})" for name, why in result["left_out"].items()]
    message += f"; positive class {result['positive_class']!r}; left out: {', '.join(left_out)}"
    get_run_logger().info(message)
    return publish(run_dir, result, [RunPaths.of(run_dir).raw])

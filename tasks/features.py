"""features: the Prefect task over eagergraph.data.features."""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task

from eagergraph.data.features import engineer_to
from eagergraph.orchestration.caching import normalized_inputs, publish, stage_options
from eagergraph.rundir.paths import RunPaths


@task(name="engineer-features", **stage_options(normalized_inputs))
def engineer_features(run_dir: str) -> dict:
    """Append squared features to both normalized splits."""
    result = engineer_to(Path(run_dir))
    get_run_logger().info(f"engineered {len(result['columns'])} model inputs: {', '.join(result['columns'])}")
    paths = RunPaths.of(run_dir)
    return publish(run_dir, result, [paths.features("train"), paths.features("test")])

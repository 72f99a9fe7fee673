"""features: the Prefect task over eagergraph.data.features."""

from __future__ import annotations

from prefect import get_run_logger, task

from eagergraph.data.features import engineer_to
from eagergraph.data.split import SPLITS
from eagergraph.orchestration.caching import normalized_inputs, publish, stage_options
from eagergraph.rundir.paths import RunPaths


@task(name="engineer-features", **stage_options(normalized_inputs))
def engineer_features(run_dir: str) -> dict:
    """Expand the normalized splits into the model's inputs (z, z², missing indicators, one-hot slots)."""
    paths = RunPaths.of(run_dir)
    splits = {split: (paths.normalized(split), paths.features(split)) for split in SPLITS}
    result = engineer_to(paths.normalizer, splits)
    result.update({split: paths.rel(paths.features(split)) for split in splits})
    get_run_logger().info(f"engineered {len(result['columns'])} model inputs: {', '.join(result['columns'])}")
    return publish(run_dir, result, [paths.features(split) for split in SPLITS])

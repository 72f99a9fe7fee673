"""normalize: the Prefect task over eagergraph.data.normalize."""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task

from eagergraph.data.normalize import normalize_to
from eagergraph.orchestration.caching import publish, raw_input, stage_options
from eagergraph.rundir.paths import RunPaths


@task(name="normalize", **stage_options(raw_input))
def normalize(run_dir: str, test_fraction: float, seed: int) -> dict:
    """Split raw.parquet into train/test and standardize both with statistics of the train split."""
    result = normalize_to(Path(run_dir), test_fraction, seed)
    get_run_logger().info(f"split {result['train_rows']} train / {result['test_rows']} test rows; statistics fitted on train only")
    paths = RunPaths.of(run_dir)
    return publish(run_dir, result, [paths.normalizer, paths.normalized("train"), paths.normalized("test"), paths.test_raw])

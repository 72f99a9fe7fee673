"""check-data: the Prefect task over eagergraph.registry.checks."""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task

from eagergraph.registry.checks import check_against_production, drifted


@task(name="check-data")
def check_data(run_dir: str, artifacts: str, drift_threshold: float, fail_on_drift: bool, model_name: str) -> dict:
    """Compare the train split with the profile of the model's production run (schema, classes, PSI); keep this
    run's profile."""
    report, line = check_against_production(Path(run_dir), Path(artifacts), drift_threshold, fail_on_drift, model_name)
    logger = get_run_logger()
    (logger.warning if drifted(report) else logger.info)(line)
    return report

"""check-scoring-data: the Prefect task over eagergraph.scoring.check."""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task

from eagergraph.core.prediction import input_batches
from eagergraph.core.serving_inputs import ModelInputs
from eagergraph.errors import DataError
from eagergraph.scoring.check import ProfileCounts, check_file, drift_report, drifted
from eagergraph.scoring.plan import reference_profile


@task(name="check-scoring-data")
def check_scoring_data(planned: dict, source: dict, threshold: float, fail_on_drift: bool) -> dict:
    """Check every value of one input against its feature's kind, and its drift against the model's training
    profile (PSI per feature, new categories); with `fail_on_drift`, drift stops the run before anything is written."""
    inputs = ModelInputs.of(planned["info"])
    reference = reference_profile(planned)
    counts = ProfileCounts(reference, inputs)
    check_file(input_batches(Path(source["path"]), inputs.features, only_features=True), inputs, Path(source["path"]),
               counts)
    report = drift_report(reference, counts, threshold, Path(planned["model_run"]).name)
    line = f"{source['name']}: {report['line']}"
    if fail_on_drift and drifted(report):
        raise DataError(f"{line}; stopped before scoring (--fail-on-drift)")
    (get_run_logger().warning if drifted(report) else get_run_logger().info)(line)
    return {**report, "name": source["name"]}

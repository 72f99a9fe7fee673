"""The check-data stage's logic: this run's train split against the profile of the production run of the same
model name in the artifacts folder (schema, classes, PSI). Plain files and numpy: no TensorFlow."""

from __future__ import annotations

from pathlib import Path

from eagergraph.errors import DataError
from eagergraph.io import read_json
from eagergraph.registry import drift
from eagergraph.registry.registry import production_run
from eagergraph.rundir.paths import RunPaths


def reference_profile(artifacts: Path, model_name: str) -> tuple[dict | None, str | None]:
    """The data profile of the model's production run and the run's name; (None, name) when production keeps no
    profile (made before data checks), (None, None) before the model's first promotion."""
    production = production_run(Path(artifacts), model_name)
    if production is None:
        return None, None
    profile = RunPaths.of(production).data_profile
    return (read_json(profile) if profile.is_file() else None), production.name


def check_against_production(run_dir: Path, artifacts: Path, threshold: float, fail_on_drift: bool,
                             model_name: str) -> tuple[dict, str]:
    """Compare this run's profile (written by normalize while it had the train rows: nothing is read again here,
    and the file, linked from the cache, is never rewritten) with production's: the report and its one-line
    summary. With `fail_on_drift`, drift or a schema difference is a DataError that stops the run before training."""
    current = read_json(RunPaths.of(run_dir).data_profile)
    reference, reference_run = reference_profile(Path(artifacts), model_name)
    report = drift.check(reference, current, threshold, reference_run)
    line = drift.summary(report)
    if fail_on_drift and drifted(report):
        raise DataError(f"{line}; stopped before training (--fail-on-drift)")
    return report, line


def drifted(report: dict) -> bool:
    """Whether the check found drift or a schema difference (a warning, or an error with --fail-on-drift)."""
    return report["status"] in ("drift", "schema")

"""score: the Prefect task over eagergraph.scoring.score's one pass (check, drift counts, predictions)."""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task
from prefect.runtime import flow_run

from eagergraph.scoring.check import drifted
from eagergraph.scoring.score import score_input
from eagergraph.text import plural


@task(name="score")
def score(planned: dict, source: dict, staging: str, threshold: float, fail_on_drift: bool) -> dict:
    """Read one input once: every value checked against its feature's kind, its drift counted against the model's
    training profile, every block predicted through the reloaded SavedModel, the predictions (lineage in the metadata)
    staged until every input has passed; with `fail_on_drift`, drift stops the run before anything is published."""
    scored = score_input(planned, source, Path(staging), threshold, fail_on_drift, str(flow_run.get_id()))
    logger = get_run_logger()
    (logger.warning if drifted(scored["check"]) else logger.info)(scored["log"])
    logger.info(f"{source['name']}: {plural(scored['rows'], 'row')} scored, staged until every input has passed")
    return scored

"""publish-scores: the Prefect task over eagergraph.scoring.score.publish."""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task

from eagergraph.rundir.paths import ScoringPaths
from eagergraph.scoring.score import publish


@task(name="publish-scores")
def publish_scores(planned: dict, scored: list[dict]) -> list[dict]:
    """Every input having passed, move the staged predictions into the output folder with their manifests, one at a
    time under the folder's lock (an input an overlapping run published meanwhile is skipped)."""
    published = [publish(ScoringPaths(Path(planned["output"])), item) for item in scored]
    for item in published:
        get_run_logger().info(f"{item['name']}: scored by this model meanwhile (another run); skipped" if item["skipped"]
                              else f"{item['name']}: {item['rows']} rows → {item['predictions']}")
    return published

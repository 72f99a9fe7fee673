"""score: the Prefect task over eagergraph.scoring.score."""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task
from prefect.runtime import flow_run

from eagergraph.rundir.paths import ScoringPaths
from eagergraph.scoring.score import lineage, score_file, write_scored_manifest
from eagergraph.text import plural


@task(name="score")
def score(planned: dict, source: dict, check: dict) -> dict:
    """Predict one input in blocks through the reloaded SavedModel; write its predictions (lineage in the
    metadata) and their manifest into the output folder, each all or nothing."""
    paths = ScoringPaths(Path(planned["output"]))
    facts = lineage(planned, Path(source["path"]), source["digest"], str(flow_run.get_id()))
    predictions = paths.predictions(source["name"])
    scored = score_file(Path(planned["model"]), planned["info"], Path(source["path"]), predictions, facts)
    write_scored_manifest(paths, source["name"], facts, source["key"], scored, check)
    get_run_logger().info(f"{source['name']}: {plural(scored['rows'], 'row')} scored → {predictions}")
    return {**scored, "name": source["name"], "predictions": str(predictions)}

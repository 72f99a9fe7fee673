"""score: the Prefect task over eagergraph.scoring.score."""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task
from prefect.runtime import flow_run

from eagergraph.rundir.paths import ScoringPaths
from eagergraph.scoring.score import already_scored, lineage, output_locked, score_file, write_scored_manifest
from eagergraph.text import plural


@task(name="score")
def score(planned: dict, source: dict, check: dict) -> dict:
    """Predict one input in blocks through the reloaded SavedModel; write its predictions (lineage in the
    metadata) and their manifest into the output folder, each all or nothing, under the folder's lock (an input an
    overlapping run scored meanwhile is skipped)."""
    paths = ScoringPaths(Path(planned["output"]))
    predictions = paths.predictions(source["name"])
    with output_locked(paths.root):
        if already_scored(paths, source["name"], source["key"]) is not None:  # by a run that overlapped this one
            get_run_logger().info(f"{source['name']}: scored by this model meanwhile (another run); skipped")
            return {"name": source["name"], "predictions": str(predictions), "rows": 0, "skipped": True}
        facts = lineage(planned, Path(source["path"]), source["digest"], str(flow_run.get_id()))
        scored = score_file(Path(planned["model"]), planned["info"], Path(source["path"]), predictions, facts)
        write_scored_manifest(paths, source["name"], facts, source["key"], scored, check)
    get_run_logger().info(f"{source['name']}: {plural(scored['rows'], 'row')} scored → {predictions}")
    return {**scored, "name": source["name"], "predictions": str(predictions), "skipped": False}

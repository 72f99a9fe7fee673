"""The scoring flow: new data in, the production model's predictions out, with drift checked and lineage kept. Its
stages live in tasks/, their logic in eagergraph.scoring."""

# No `from __future__ import annotations` here: a deployment loads this file by its entrypoint, and Prefect
# validates the parameters against the real ScoringConfig class, which a string annotation would hide.
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from eagergraph.orchestration.crashed import mark_crashed
from eagergraph.orchestration.naming import scoring_run_name
from eagergraph.orchestration.stages import run_side_by_side, run_stage
from eagergraph.rundir.paths import ScoringPaths
from eagergraph.scoring.config import ScoringConfig
from eagergraph.scoring.score import StagedPredictions
from eagergraph.tasks.publish_scores import publish_scores
from eagergraph.tasks.record_scoring import record_scoring
from eagergraph.tasks.score import score
from eagergraph.tasks.scoring_plan import resolve_scoring

FLOW_NAME = "eagergraph-scoring"


@flow(name=FLOW_NAME, description="Score new data with the production model, drift checked, lineage kept.",
      flow_run_name=scoring_run_name)
def scoring_flow(config: ScoringConfig) -> dict:
    """resolve-scoring → score (each new input in one pass: checked, drift counted, predicted, staged) →
    publish-scores (only when every input passed) → record-scoring."""
    c, seconds = config, {}
    planned = run_stage(seconds, resolve_scoring, str(c.artifacts), c.model_name, str(c.model) if c.model else None,
                        str(c.input), str(c.output_folder))
    pending = [source for source in planned["inputs"] if not source["skip"]]
    with StagedPredictions(ScoringPaths(Path(planned["output"])), str(flow_run.get_id())) as staging:
        mark_crashed(staging.crashed_flow_runs, logger=get_run_logger())  # runs killed with their staging folder
        scored = run_side_by_side(seconds, score, [(planned, source, str(staging.folder), c.drift_threshold,
                                                    c.fail_on_drift) for source in pending])
        published = run_stage(seconds, publish_scores, planned, scored)
    checks = [item["check"] for item in scored]
    entry = run_stage(seconds, record_scoring, str(c.artifacts), planned, published, checks)
    return {**entry, "checks": checks, "stage_seconds": seconds}

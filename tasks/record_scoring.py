"""record-scoring: the Prefect task that lists the scoring run in the artifacts folder and publishes its page."""

from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.runtime import flow_run

from eagergraph.reporting.scoring import publish_scoring
from eagergraph.scoring.plan import record


@task(name="record-scoring")
def record_scoring(artifacts: str, planned: dict, scored: list[dict], checks: list[dict]) -> dict:
    """One line in `artifacts/scoring.jsonl` (beside the training runs' registry) and the UI's scoring artifacts."""
    written = [item for item in scored if not item["skipped"]]
    skipped = [i["name"] for i in planned["inputs"] if i["skip"]] + [i["name"] for i in scored if i["skipped"]]
    publish_scoring(planned, written, checks, skipped)
    return record(Path(artifacts), {
        "flow_run_id": str(flow_run.get_id()), "model_name": planned["model_name"],
        "model_run": Path(planned["model_run"]).name, "model_digest": planned["model_id"],
        "output": planned["output"], "rows": sum(item["rows"] for item in written),
        "scored": [item["name"] for item in written], "outputs": [item["predictions"] for item in written],
        "skipped": skipped,
        "drifted": {check["name"]: check["drifted"] for check in checks if check["drifted"]}})

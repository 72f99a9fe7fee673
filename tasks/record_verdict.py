"""record-verdict: the Prefect task over eagergraph.registry.registry, plus the event automations watch."""

from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.events import emit_event

from eagergraph.registry.registry import record_run

PROMOTED_EVENT = "eagergraph.model.promoted"
REFUSED_EVENT = "eagergraph.model.refused"


@task(name="record-verdict")
def record_verdict(run_dir: str, artifacts: str, verdict: dict, flow_run_id: str) -> dict:
    """Append the verdict to the registry, move `production` if promoted, and emit the event automations watch."""
    entry = record_run(Path(artifacts), Path(run_dir), verdict, flow_run_id)
    emit_event(event=PROMOTED_EVENT if entry["promoted"] else REFUSED_EVENT,
               resource={"prefect.resource.id": f"eagergraph.run.{entry['run']}", "prefect.resource.name": entry["run"]},
               payload={"run_dir": str(run_dir), "production": entry["production_dir"],
                        "reason": entry["reason"], "metric": entry["metric"], "metrics": entry["metrics"]})
    return entry

"""gc: the Prefect task over eagergraph.registry.retention."""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task

from eagergraph.registry.retention import collect, describe
from eagergraph.text import plural


@task(name="gc")
def apply_retention(artifacts: str, keep: int) -> dict:
    """Remove all but the newest `keep` runs (never production, its rollback target, latest) and unused cache objects."""
    done = collect(Path(artifacts), keep)
    get_run_logger().info(f"kept the newest {plural(keep, 'run')}: removed {describe(done)}")
    return {"removed_runs": [p.name for p in done.runs], "removed_objects": len(done.objects), "freed_bytes": done.freed_bytes}

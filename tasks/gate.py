"""check-data, gate and record-verdict: the Prefect tasks over eagergraph.registry."""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task

from eagergraph.data.io import read_json, write_json
from eagergraph.errors import DataError
from eagergraph.registry import drift
from eagergraph.registry.registry import production_run
from eagergraph.rundir.paths import RunPaths

PROMOTED_EVENT = "eagergraph.model.promoted"
REFUSED_EVENT = "eagergraph.model.refused"


@task(name="check-data")
def check_data(run_dir: str, artifacts: str, drift_threshold: float, fail_on_drift: bool) -> dict:
    """Compare the train split with the production run's profile (schema, classes, PSI); keep this run's profile."""
    header, columns = drift.train_columns(Path(run_dir))
    write_json(RunPaths.of(run_dir).data_profile, drift.profile(header, columns))
    production = production_run(Path(artifacts))
    reference = RunPaths.of(production).data_profile if production else None
    report = drift.compare(read_json(reference) if reference and reference.is_file() else None, header, columns,
                           drift_threshold, production.name if production else None)
    line = drift.summary(report)
    if fail_on_drift and report["status"] in ("drift", "schema"):
        raise DataError(f"{line}; stopped before training (--fail-on-drift)")
    logger = get_run_logger()
    (logger.warning if report["status"] in ("drift", "schema") else logger.info)(line)
    return report


@task(name="gate")
def gate(run_dir: str, final_dir: str, artifacts: str, rules: dict, data_check: dict) -> dict:
    """Score production's model and this run's on this run's test split; write the verdict into metrics.json."""
    from eagergraph.registry.gate import GateRules, judge_run

    production = production_run(Path(artifacts))
    paths = RunPaths.of(run_dir)
    evaluated = read_json(paths.metrics)
    verdict = judge_run(Path(run_dir), production, GateRules(**rules), evaluated)
    after = Path(final_dir) if verdict["promoted"] else production
    verdict["production_after"] = str(after) if after else None
    metrics = {**evaluated, "gate": verdict, "data_check": data_check}
    write_json(paths.metrics, metrics)
    get_run_logger().info(f"{'promote' if verdict['promoted'] else 'refuse'}: {verdict['reason']}")
    return metrics


@task(name="record-verdict")
def record_verdict(run_dir: str, artifacts: str, verdict: dict, flow_run_id: str) -> dict:
    """Append the verdict to the registry, move `production` if promoted, and emit the event automations watch."""
    from prefect.events import emit_event

    from eagergraph.registry.registry import record
    from eagergraph.rundir.manifest import sha256

    paths = RunPaths.of(run_dir)
    entry = record(Path(artifacts), Path(run_dir), verdict, flow_run_id=flow_run_id, data_sha256=sha256(paths.raw))
    production = production_run(Path(artifacts))
    emit_event(event=PROMOTED_EVENT if entry["promoted"] else REFUSED_EVENT,
               resource={"prefect.resource.id": f"eagergraph.run.{entry['run']}", "prefect.resource.name": entry["run"]},
               payload={"run_dir": str(run_dir), "production": str(production) if production else None,
                        "reason": entry["reason"], "metric": entry["metric"], "metrics": entry["metrics"]})
    return {**entry, "production_dir": str(production) if production else None}


@task(name="gc")
def apply_retention(artifacts: str, keep: int) -> dict:
    """Remove all but the newest `keep` runs (never production, its rollback target, latest) and unused cache objects."""
    from eagergraph.registry.retention import collect

    done = collect(Path(artifacts), keep)
    get_run_logger().info(f"kept the newest {keep} runs: removed {len(done.runs)} run(s) and {len(done.objects)} "
                          f"cache object(s), {done.freed_bytes / 2**20:.1f} MiB freed")
    return {"removed_runs": [p.name for p in done.runs], "removed_objects": len(done.objects), "freed_bytes": done.freed_bytes}

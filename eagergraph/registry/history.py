"""`eagergraph runs`: one row per completed run, newest first, from its manifest, metrics and the registry."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from eagergraph.metrics import GATE_DEFAULT, metrics_for, served_metrics, task_of
from eagergraph.registry.registry import productions, read_registry, run_model_name
from eagergraph.rundir.paths import RunPaths, completed_runs


def run_time(run_id: str) -> str | None:
    """When the run started, from its id (UTC timestamp to the microsecond, then a random suffix)."""
    try:
        return datetime.strptime(run_id.split("-")[0], "%Y%m%dT%H%M%S%fZ").replace(tzinfo=timezone.utc).isoformat(
            timespec="seconds")
    except ValueError:
        return None


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def verdicts(entries: list[dict[str, Any]]) -> dict[str, str]:
    """Each run's last recorded decision: promoted, promoted (manual), refused, or rolled back to."""
    last: dict[str, str] = {}
    for entry in entries:
        action = entry.get("action")
        last[entry["run"]] = ("rolled back to" if action == "rollback" else "refused" if action == "refuse"
                              else "promoted (manual)" if entry.get("mode") == "manual" else "promoted")
    return last


def run_rows(artifacts: Path, model_name: str | None = None) -> list[dict[str, Any]]:
    """The history of the artifacts folder, newest first (only one model's runs when `model_name` is given); each row
    carries its task's catalogue metrics under their metrics.json keys."""
    artifacts = Path(artifacts)
    production = {run.name for run in productions(artifacts).values()}
    decided = verdicts(read_registry(artifacts))
    rows = []
    for run in reversed(completed_runs(artifacts)):
        name = run_model_name(run)
        if model_name is not None and name != model_name:
            continue
        paths = RunPaths.of(run)
        manifest, metrics = _read(paths.manifest), _read(paths.metrics)
        scored = served_metrics(metrics)
        gate = metrics.get("gate") or {}
        task = task_of(metrics)
        rows.append({"run": run.name, "when": run_time(run.name), "model_name": name, "task": task,
                     "data": (manifest.get("config") or {}).get("data") or "synthetic",
                     "rows": (manifest.get("rows") or {}).get("raw"),
                     **{m.name: scored.get(m.name) for m in metrics_for(task)},
                     "gate_metric": gate.get("metric") or GATE_DEFAULT.get(task),
                     "speedup": metrics.get("speedup"), "variant": metrics.get("graph_variant"),
                     "verdict": decided.get(run.name) or ("promoted" if gate.get("promoted") else "refused" if gate else None),
                     "production": run.name in production,
                     "flow_run_id": manifest.get("flow_run_id"), "run_dir": str(run)})
    return rows

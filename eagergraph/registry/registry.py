"""The production pointer and its history: `artifacts/production` (a symlink to the promoted run) and
`artifacts/registry.jsonl` (one JSON object per decision: promotion, refusal, rollback; append-only).

Every change happens under one exclusive file lock (`.registry.lock`): the registry line and the pointer move
together, so two runs finishing at once both get their line, in the order their pointer moves happened. The
pointer moves by renaming a new symlink over the old one: a crash leaves the old or the new one, never none.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from eagergraph.errors import RegistryError
from eagergraph.registry.gate import SCORED
from eagergraph.rundir.paths import PRODUCTION, REGISTRY, REGISTRY_LOCK, TMP_PREFIX, RunPaths


@contextmanager
def registry_locked(artifacts: Path) -> Iterator[None]:
    """Hold the registry's lock (the kernel releases it if the process dies, SIGKILL included). The artifacts
    folder must exist: a mistyped --artifacts is an error, not a new folder."""
    if not Path(artifacts).is_dir():
        raise RegistryError(f"{artifacts}: no such artifacts folder")
    fd = os.open(Path(artifacts) / REGISTRY_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def read_registry(artifacts: Path) -> list[dict[str, Any]]:
    """Every recorded decision, oldest first; a line cut short by a crash mid-write is skipped."""
    path = Path(artifacts) / REGISTRY
    if not path.is_file():
        return []
    entries = []
    for line in path.read_text().splitlines():
        try:
            entries.append(json.loads(line))
        except ValueError:
            continue
    return entries


def _append(artifacts: Path, entry: dict[str, Any]) -> None:
    """One line, one write(2) on an O_APPEND descriptor, flushed to disk before the lock is released."""
    fd = os.open(Path(artifacts) / REGISTRY, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (json.dumps(entry, sort_keys=True, default=str) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def production_run(artifacts: Path) -> Path | None:
    """The production run directory (the link resolved), or None before the first promotion."""
    link = Path(artifacts) / PRODUCTION
    if not link.is_symlink() or not link.resolve().is_dir():
        return None
    return link.resolve()


def _point_production(artifacts: Path, run_name: str) -> None:
    """Called with the registry lock held: a staging link left by a crash is ours to replace."""
    staging = Path(artifacts) / f"{TMP_PREFIX}{PRODUCTION}"
    staging.unlink(missing_ok=True)
    staging.symlink_to(run_name)  # relative: the artifacts folder can move as a whole
    os.replace(staging, Path(artifacts) / PRODUCTION)


def check_run_dir(path: Path, artifacts: Path | None = None) -> Path:
    """A complete run directory (links resolved) inside the artifacts folder, or a RegistryError naming why not."""
    path = Path(path)
    if not path.exists():
        raise RegistryError(f"{path}: no such run directory")
    run = path.resolve()
    paths = RunPaths.of(run)
    if not run.is_dir() or run.name.startswith("."):
        raise RegistryError(f"{path}: not a run directory")
    if artifacts is not None and run.parent != Path(artifacts).resolve():
        raise RegistryError(f"{path}: not a run of the artifacts folder {artifacts}")
    missing = [p.name for p in (paths.manifest, paths.metrics) if not p.is_file()]
    if not any((paths.model(mode) / "saved_model.pb").is_file() for mode in ("graph", "eager")):
        missing.append("models/graph/saved_model.pb")
    if missing:
        raise RegistryError(f"{path}: not a complete run directory (no {', '.join(missing)})")
    return run


def production_stack(entries: list[dict[str, Any]]) -> list[str]:
    """The runs production has been, replayed from the registry: a promotion pushes, a rollback pops."""
    stack: list[str] = []
    for entry in entries:
        if entry.get("action") == "rollback" and stack:
            stack.pop()
        if entry.get("production") and (not stack or stack[-1] != entry["production"]):
            stack.append(entry["production"])
    return stack


def rollback_target(artifacts: Path, entries: list[dict[str, Any]] | None = None) -> str | None:
    """The run production was before the current one and that still exists (gc never removes it)."""
    stack = production_stack(read_registry(artifacts) if entries is None else entries)
    for name in reversed(stack[:-1]):
        if name != (stack[-1] if stack else None) and (Path(artifacts) / name).is_dir():
            return name
    return None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _entry(run: str, action: str, mode: str, reason: str, previous: Path | None, production: str | None,
           **facts: Any) -> dict[str, Any]:
    """One registry line: the one place its fields are named (automatic verdicts, promote, rollback)."""
    return {"time": _now(), "run": run, "action": action, "mode": mode, "promoted": action != "refuse",
            "reason": reason, "previous": previous.name if previous else None, "production": production, **facts}


def record(artifacts: Path, run_dir: Path, verdict: dict[str, Any], *, mode: str = "automatic",
           flow_run_id: str | None = None, data_sha256: str | None = None) -> dict[str, Any]:
    """Record the gate's verdict on a completed run and, if it promoted, move the production pointer to it."""
    artifacts = Path(artifacts)
    run = Path(run_dir).name
    with registry_locked(artifacts):
        before = production_run(artifacts)
        if verdict["promoted"]:
            _point_production(artifacts, run)
        entry = _entry(run, "promote" if verdict["promoted"] else "refuse", mode, verdict["reason"], before,
                       run if verdict["promoted"] else (before.name if before else None),
                       flow_run_id=flow_run_id, data_sha256=data_sha256, metric=verdict.get("metric"),
                       tolerance=verdict.get("tolerance"), judged_against=verdict.get("production_run"),
                       metrics={"candidate": verdict.get("candidate"), "production": verdict.get("production")})
        _append(artifacts, entry)
    return entry


def _run_facts(run: Path) -> dict[str, Any]:
    """Flow-run id, data hash and graph metrics of a run, for entries made outside its flow."""
    paths = RunPaths.of(run)
    manifest = json.loads(paths.manifest.read_text())
    metrics = json.loads(paths.metrics.read_text())
    raw = next((f["sha256"] for f in manifest.get("files", []) if f["path"] == paths.raw.name), None)
    scored = metrics.get("graph") or metrics.get("eager") or {}
    return {"flow_run_id": manifest.get("flow_run_id"), "data_sha256": raw,
            "metrics": {"candidate": {k: scored.get(k) for k in SCORED}, "production": None}}


def promote(artifacts: Path, run_dir: Path, reason: str = "forced with `eagergraph promote`") -> dict[str, Any]:
    """Make a complete run production by hand, whatever the gate said; recorded as manual."""
    artifacts = Path(artifacts)
    run = check_run_dir(run_dir, artifacts)
    facts = _run_facts(run)
    with registry_locked(artifacts):
        before = production_run(artifacts)
        _point_production(artifacts, run.name)
        entry = _entry(run.name, "promote", "manual", reason, before, run.name, **facts)
        _append(artifacts, entry)
    return entry


def rollback(artifacts: Path) -> dict[str, Any]:
    """Return production to the run it was before the current one; recorded as manual."""
    artifacts = Path(artifacts)
    with registry_locked(artifacts):
        current = production_run(artifacts)
        if current is None:
            raise RegistryError(f"{artifacts}: no production model to roll back (nothing was promoted yet)")
        target = rollback_target(artifacts)
        if target is None:
            raise RegistryError(f"{artifacts}: production {current.name} has no earlier production run to return to")
        run = check_run_dir(artifacts / target, artifacts)
        _point_production(artifacts, run.name)
        entry = _entry(run.name, "rollback", "manual", f"rolled back from {current.name}", current, run.name,
                       **_run_facts(run))
        _append(artifacts, entry)
    return entry


def record_run(artifacts: Path, run_dir: Path, verdict: dict[str, Any], flow_run_id: str | None) -> dict[str, Any]:
    """The record-verdict stage's logic: the gate's verdict on a completed run recorded with its data's hash;
    the entry, plus `production_dir`, the production run once recorded."""
    from eagergraph.io import sha256

    entry = record(Path(artifacts), Path(run_dir), verdict, flow_run_id=flow_run_id,
                   data_sha256=sha256(RunPaths.of(run_dir).raw))
    production = production_run(Path(artifacts))
    return {**entry, "production_dir": str(production) if production else None}

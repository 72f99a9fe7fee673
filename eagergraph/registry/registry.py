"""The production pointers and their history: `artifacts/production/<model-name>` (a symlink to each model's
promoted run; `production` itself links to the folder `.production`, so switching layouts is one rename) and
`artifacts/registry.jsonl` (one JSON object per decision: promotion, refusal, rollback; append-only; each
names its model). A run of one model never moves another model's production.

Every change happens under one exclusive file lock (`.registry.lock`): the registry line and the pointer move
together, so two runs finishing at once both get their line, in the order their pointer moves happened. The
pointer moves by renaming a new symlink over the old one: a crash leaves the old or the new one, never none.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from eagergraph.errors import RegistryError
from eagergraph.io import DATA_DIGEST, DIGEST, append_json_line, locked, read_json_lines
from eagergraph.metrics import metrics_for, served_metrics, task_of
from eagergraph.rundir.model_names import default_model_name
from eagergraph.rundir.paths import PRODUCTION, PRODUCTIONS, REGISTRY, REGISTRY_LOCK, RunPaths, production_names
from eagergraph.rundir.staging import TMP_PREFIX


@contextmanager
def registry_locked(artifacts: Path) -> Iterator[None]:
    """Hold the registry's lock (the kernel releases it if the process dies, SIGKILL included). The artifacts
    folder must exist: a mistyped --artifacts is an error, not a new folder."""
    if not Path(artifacts).is_dir():
        raise RegistryError(f"{artifacts}: no such artifacts folder")
    with locked(Path(artifacts) / REGISTRY_LOCK):
        yield


def read_registry(artifacts: Path) -> list[dict[str, Any]]:
    """Every recorded decision, oldest first; a line cut short by a crash mid-write is skipped."""
    return read_json_lines(Path(artifacts) / REGISTRY)


def _append(artifacts: Path, entry: dict[str, Any]) -> None:
    """One line, flushed to disk before the registry's lock is released."""
    append_json_line(Path(artifacts) / REGISTRY, entry)


def _read(path: Path) -> dict[str, Any]:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}


def run_model_name(run: Path) -> str:
    """The model name a run belongs to: recorded in its manifest or metrics.json, else its data's default
    (runs made before model names: the data file's stem, or `synthetic`)."""
    paths = RunPaths.of(run)
    manifest, metrics = _read(paths.manifest), _read(paths.metrics)
    config = manifest.get("config") or {}
    return (manifest.get("model_name") or metrics.get("model_name") or config.get("model_name")
            or default_model_name(config.get("data")))


def productions(artifacts: Path) -> dict[str, Path]:
    """Every model's production run (links resolved), by model name. The old layout, `production` linking to one
    run, reads as the production of that run's model name."""
    link = Path(artifacts) / PRODUCTION
    if not link.is_symlink():
        return {}
    target = link.resolve()
    if target.name == PRODUCTIONS:
        runs = {name: (target / name).resolve() for name in production_names(target)} if target.is_dir() else {}
        return {name: run for name, run in runs.items() if run.is_dir()}
    return {run_model_name(target): target} if target.is_dir() else {}


def production_run(artifacts: Path, model_name: str | None = None) -> Path | None:
    """A model's production run directory, or None before its first promotion. Without a name: the folder's
    only production model (a RegistryError when it holds several, naming them)."""
    found = productions(artifacts)
    if model_name is not None:
        return found.get(model_name)
    if len(found) > 1:
        raise RegistryError(f"{artifacts}: {len(found)} production models ({', '.join(sorted(found))}); "
                            "name one with --model-name")
    return next(iter(found.values()), None)


def _replace_link(link: Path, target: str | Path) -> None:
    """Point `link` at `target` by renaming a new link over it: readers see the old target or the new one."""
    staging = link.with_name(f"{TMP_PREFIX}{link.name}")
    staging.unlink(missing_ok=True)  # a staging link left by a crash: ours, the registry lock is held
    staging.symlink_to(target)
    os.replace(staging, link)


def _point_production(artifacts: Path, model_name: str, run_name: str) -> None:
    """Called with the registry lock held: `production/<model_name>` moves to the run. An old-layout `production`
    (one link to a run) is migrated first: its model gets its link in the folder, then `production` is switched
    to the folder by one rename."""
    artifacts = Path(artifacts)
    folder, link = artifacts / PRODUCTIONS, artifacts / PRODUCTION
    kept = productions(artifacts) if link.is_symlink() and link.resolve().name != PRODUCTIONS else {}
    folder.mkdir(exist_ok=True)
    for name, run in {**kept, model_name: Path(run_name)}.items():
        _replace_link(folder / name, Path("..") / run.name)  # relative: the artifacts folder can move as a whole
    if not (link.is_symlink() and os.readlink(link) == PRODUCTIONS):
        _replace_link(link, PRODUCTIONS)


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
    """The runs production has been, replayed from one model's registry entries: a promotion pushes, a rollback
    pops."""
    stack: list[str] = []
    for entry in entries:
        if entry.get("action") == "rollback" and stack:
            stack.pop()
        if entry.get("production") and (not stack or stack[-1] != entry["production"]):
            stack.append(entry["production"])
    return stack


def entries_of(artifacts: Path, entries: list[dict[str, Any]], model_name: str) -> list[dict[str, Any]]:
    """The registry entries of one model name; an entry written before model names belongs to its run's."""
    names: dict[str, str] = {}

    def owner(entry: dict[str, Any]) -> str:
        if entry.get("model_name"):
            return entry["model_name"]
        if entry["run"] not in names:
            names[entry["run"]] = run_model_name(Path(artifacts) / entry["run"])
        return names[entry["run"]]

    return [entry for entry in entries if owner(entry) == model_name]


def model_names(artifacts: Path, entries: list[dict[str, Any]] | None = None) -> list[str]:
    """Every model name with a production link or a registry entry, sorted."""
    entries = read_registry(artifacts) if entries is None else entries
    recorded = {entry.get("model_name") or run_model_name(Path(artifacts) / entry["run"]) for entry in entries}
    return sorted(recorded | set(productions(artifacts)))


def rollback_target(artifacts: Path, model_name: str, entries: list[dict[str, Any]] | None = None) -> str | None:
    """The run a model's production was before the current one and that still exists (gc never removes it)."""
    entries = read_registry(artifacts) if entries is None else entries
    stack = production_stack(entries_of(artifacts, entries, model_name))
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


def stale_checked(verdict: dict[str, Any], production: Path | None) -> dict[str, Any]:
    """The verdict as it may be recorded now (called under the registry lock: check and set): a promotion judged
    against another production run than the current one is refused, naming both; the run is not judged again
    here (that would score models with the lock held), the next run is judged against the new production."""
    if not verdict["promoted"] or "production_run" not in verdict:  # a refusal, or a verdict made before this check
        return verdict
    judged, now = verdict["production_run"], production.name if production else None
    if judged == now:
        return verdict
    return {**verdict, "promoted": False,
            "reason": f"production changed while this run was judged (judged against {judged or 'no production'}, "
                      f"production is now {now or 'none'}): not promoted; promote it by hand with "
                      "`eagergraph promote` if it should replace the new production"}


def record(artifacts: Path, run_dir: Path, verdict: dict[str, Any], *, mode: str = "automatic",
           flow_run_id: str | None = None, data_digest: str | None = None) -> dict[str, Any]:
    """Record the gate's verdict on a completed run and, if it promoted, move its model's production link to it
    (no other model's production moves)."""
    artifacts = Path(artifacts)
    run = Path(run_dir).name
    model_name = verdict.get("model_name") or run_model_name(Path(run_dir))
    with registry_locked(artifacts):
        before = production_run(artifacts, model_name)
        verdict = stale_checked(verdict, before)
        if verdict["promoted"]:
            _point_production(artifacts, model_name, run)
        entry = _entry(run, "promote" if verdict["promoted"] else "refuse", mode, verdict["reason"], before,
                       run if verdict["promoted"] else (before.name if before else None), model_name=model_name,
                       flow_run_id=flow_run_id, **{DATA_DIGEST: data_digest}, metric=verdict.get("metric"),
                       tolerance=verdict.get("tolerance"), judged_against=verdict.get("production_run"),
                       metrics={"candidate": verdict.get("candidate"), "production": verdict.get("production")})
        _append(artifacts, entry)
    return entry


def _run_facts(run: Path) -> dict[str, Any]:
    """Model name, flow-run id, data hash and the task's graph metrics of a run, for entries made outside its flow."""
    paths = RunPaths.of(run)
    manifest = json.loads(paths.manifest.read_text())
    metrics = json.loads(paths.metrics.read_text())
    raw = next((f.get(DIGEST) for f in manifest.get("files", []) if f["path"] == paths.raw.name), None)
    scored = served_metrics(metrics)
    names = [m.name for m in metrics_for(task_of(metrics))]
    return {"model_name": run_model_name(run), "flow_run_id": manifest.get("flow_run_id"), DATA_DIGEST: raw,
            "metrics": {"candidate": {k: scored.get(k) for k in names}, "production": None}}


def promote(artifacts: Path, run_dir: Path, reason: str = "forced with `eagergraph promote`") -> dict[str, Any]:
    """Make a complete run its model's production by hand, whatever the gate said; recorded as manual."""
    artifacts = Path(artifacts)
    run = check_run_dir(run_dir, artifacts)
    facts = _run_facts(run)
    with registry_locked(artifacts):
        before = production_run(artifacts, facts["model_name"])
        _point_production(artifacts, facts["model_name"], run.name)
        entry = _entry(run.name, "promote", "manual", reason, before, run.name, **facts)
        _append(artifacts, entry)
    return entry


def _named(artifacts: Path, model_name: str | None) -> str:
    """The model a command without --model-name acts on: the folder's only production model."""
    if model_name is not None:
        return model_name
    names = sorted(productions(artifacts))
    if not names:
        raise RegistryError(f"{artifacts}: no production model to roll back (nothing was promoted yet)")
    if len(names) > 1:
        raise RegistryError(f"{artifacts}: {len(names)} production models ({', '.join(names)}); "
                            "name one with --model-name")
    return names[0]


def rollback(artifacts: Path, model_name: str | None = None) -> dict[str, Any]:
    """Return a model's production to the run it was before the current one; recorded as manual. Without a name,
    the folder must hold one production model."""
    artifacts = Path(artifacts)
    with registry_locked(artifacts):
        name = _named(artifacts, model_name)
        current = production_run(artifacts, name)
        if current is None:
            raise RegistryError(f"{artifacts}: model {name!r} has no production model to roll back "
                                f"(models with one: {', '.join(sorted(productions(artifacts))) or 'none'})")
        target = rollback_target(artifacts, name)
        if target is None:
            raise RegistryError(f"{artifacts}: production {current.name} of model {name!r} has no earlier production "
                                "run to return to")
        run = check_run_dir(artifacts / target, artifacts)
        _point_production(artifacts, name, run.name)
        entry = _entry(run.name, "rollback", "manual", f"rolled back from {current.name}", current, run.name,
                       **{**_run_facts(run), "model_name": name})
        _append(artifacts, entry)
    return entry


def record_run(artifacts: Path, run_dir: Path, verdict: dict[str, Any], flow_run_id: str | None) -> dict[str, Any]:
    """The record-verdict stage's logic: the gate's verdict on a completed run recorded with its data's hash (the
    manifest's, taken once per run: raw.parquet is not read again); the entry, plus `production_dir`, the production
    run once recorded."""
    entry = record(Path(artifacts), Path(run_dir), verdict, flow_run_id=flow_run_id,
                   data_digest=_run_facts(Path(run_dir))[DATA_DIGEST])
    production = production_run(Path(artifacts), entry["model_name"])
    return {**entry, "production_dir": str(production) if production else None}

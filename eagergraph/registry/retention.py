"""Retention: remove old run directories, never any model's production, its rollback target, `latest` or a run being
written; then the cache objects no remaining run uses. The plan is computed first, so --dry-run prints exactly
what a real collection removes, and the space it frees (a file's space is freed when its last hard link goes).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from eagergraph.io import DIGEST
from eagergraph.rundir.paths import CACHE_DIR, RunPaths, completed_runs
from eagergraph.rundir.staging import LATEST, TMP_PREFIX
from eagergraph.text import plural


def select_removals(runs: list[str], keep: int, protected: set[str]) -> list[str]:
    """Run names to remove, oldest first: all but the newest `keep` (names sort by time) and the protected ones."""
    newest = set(sorted(runs)[-keep:]) if keep > 0 else set()
    return [name for name in sorted(runs) if name not in newest and name not in protected]


@dataclass
class Plan:
    """What a collection removes: run directories, unused cache objects, and the bytes that frees."""

    runs: list[Path] = field(default_factory=list)
    objects: list[Path] = field(default_factory=list)
    kept: dict[str, str] = field(default_factory=dict)  # protected run → why
    freed_bytes: int = 0


def protected_runs(artifacts: Path) -> dict[str, str]:
    """Runs gc never removes, with the reason: every model's production and rollback target, latest's run."""
    from eagergraph.registry.registry import model_names, productions, read_registry, rollback_target

    keep: dict[str, str] = {}
    latest = Path(artifacts) / LATEST
    if latest.is_symlink():
        keep[latest.resolve().name] = "latest"
    entries = read_registry(artifacts)
    for name in model_names(artifacts, entries):
        target = rollback_target(artifacts, name, entries)
        if target:
            keep[target] = f"previous production of {name} (rollback target)"
    for name, production in productions(artifacts).items():
        keep[production.name] = f"production of {name}"
    return keep


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and not p.is_symlink()]


def _referenced(runs: list[Path]) -> set[str]:
    """The digest of every file the remaining runs list in their manifests (copies count, not only hard links)."""
    digests: set[str] = set()
    for run in runs:
        try:
            digests.update(f[DIGEST] for f in json.loads(RunPaths.of(run).manifest.read_text()).get("files", []) if DIGEST in f)
        except (OSError, ValueError, KeyError):
            continue
    return digests


def plan(artifacts: Path, keep: int) -> Plan:
    """The collection `gc --keep N` would do now."""
    artifacts = Path(artifacts)
    runs = completed_runs(artifacts)
    kept = protected_runs(artifacts)
    doomed = set(select_removals([r.name for r in runs], keep, set(kept)))
    result = Plan(runs=[r for r in runs if r.name in doomed], kept=kept)
    links: dict[tuple[int, int], list] = {}  # inode → [links inside removed runs, nlink, size]
    for run in result.runs:
        for path in _files(run):
            stat = path.stat()
            entry = links.setdefault((stat.st_dev, stat.st_ino), [0, stat.st_nlink, stat.st_size])
            entry[0] += 1
    referenced = _referenced([r for r in runs if r.name not in doomed])
    for obj in sorted((artifacts / CACHE_DIR / "objects").glob("*/*")):
        stat = obj.stat()
        inside = links.get((stat.st_dev, stat.st_ino), [0])[0]
        if stat.st_nlink - inside <= 1 and obj.name not in referenced and not obj.name.startswith("."):
            result.objects.append(obj)
            links.setdefault((stat.st_dev, stat.st_ino), [0, stat.st_nlink, stat.st_size])[0] += 1
    result.freed_bytes = sum(size for inside, nlink, size in links.values() if inside >= nlink)
    return result


def collect(artifacts: Path, keep: int, dry_run: bool = False) -> Plan:
    """Plan and, unless a dry run, remove: each run is first renamed out of the listing (atomic), then deleted."""
    from eagergraph.registry.registry import registry_locked

    with registry_locked(artifacts):  # production cannot move while we decide what it protects
        result = plan(artifacts, keep)
        if dry_run:
            return result
        for run in result.runs:
            doomed = run.with_name(f"{TMP_PREFIX}gc-{run.name}")
            os.rename(run, doomed)
            shutil.rmtree(doomed, ignore_errors=True)
        for obj in result.objects:
            obj.unlink(missing_ok=True)
    return result


def describe(done: Plan, dry_run: bool = False) -> str:
    """What a collection removed (or, dry, would remove), as `gc` and the flow's gc stage say it."""
    return (f"{plural(len(done.runs), 'run')} and {plural(len(done.objects), 'unused cache object')}; "
            f"{done.freed_bytes / 2**20:.1f} MiB {'would be ' if dry_run else ''}freed")

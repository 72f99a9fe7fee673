"""Caching of the data stages across runs, keyed on content, with every run directory still complete.

Why not Prefect's default policy: it includes the flow-run id (so it only caches within a run) and it would hash
the run directory's *path*, which is new for every run. Why not cache results that point at files: every run
writes into its own staged directory, and a result pointing into an older run directory names files that belong
to another run (which may be gone). So:

- the cache key composes Prefect's own policies, `TASK_SOURCE + INPUTS - "run_dir"` (the task's source and its
  parameters but the run directory), with one policy of ours, `StageFiles`: the content of the stage's input
  files, the source of the data-logic package, and the artifacts folder that holds the store;
- the stage publishes its output files into a content-addressed store (`artifacts/.cache/objects/<blake3>`,
  hard links, so no extra disk) and its persisted result holds only relative paths, hashes and small values;
- on every call, cached or not, `run_cached` links the stage's files from the store into the new run directory
  (a missing or damaged object means the stage runs again), so every run directory holds all its files.

A hit reads no cached file: the store keeps a state file (`cache_state`, DVC's "state": file identity, i.e. device,
inode, size and modification time, to digest; see `eagergraph.io.file_digest`), so the input file's digest in the key
and the check of each object before it is linked are re-hashed only for a file whose identity moved. The integrity
guarantee that remains: an object damaged so that its size or modification time changed is re-hashed, found not to
match, removed from the store and recomputed, never linked; bytes changed with the size and the time put back (a tool
that restores times, a bit flip on disk) are not noticed (DVC's and rsync's trade-off: delete the state file, or
`--refresh`, to check by content). A torn or corrupt state file reads as empty: it costs hashing, never a wrong hit.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import os
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prefect.cache_policies import INPUTS, TASK_SOURCE, CachePolicy
from prefect.utilities.hashing import hash_objects

from eagergraph.data.split import SPLITS
from eagergraph.io import file_digest, save_state
from eagergraph.orchestration.stages import run_stage
from eagergraph.rundir.paths import RunPaths, cache_object, cache_state

DATA_LOGIC = "eagergraph.data"  # the package that holds the data stages' plain logic
FILES = "files"  # result key: {path relative to the run directory: file digest}
RUN_DIR = "run_dir"  # every stage's first parameter: the run directory it works in


def content_digest(path: Path, state: Path | None = None) -> list[tuple[str, str]]:
    """(relative name, file digest) of a file, or of every file in a folder in sorted order; never a path or an
    mtime (those only find a digest already taken, in the cache's `state`)."""
    path = Path(path)
    if path.is_dir():
        return [(str(p.relative_to(path)), file_digest(p, state=state)) for p in sorted(path.rglob("*")) if p.is_file()]
    return [("", file_digest(path, state=state))] if path.is_file() else []


def package_source_digest(package: str = DATA_LOGIC) -> str | None:
    """Hash of every module's source in the data-logic package, and of each eagergraph module outside it that they
    import (the streaming moments, the metric catalogue's task rules): a change to any of the stages' logic (or the
    I/O they share) invalidates the cached data stages (TASK_SOURCE sees only the thin task)."""
    folder = Path(importlib.import_module(package).__file__).parent
    sources = sorted(folder.glob("*.py"))
    outside = {name for source in sources for name in _imported(source) if not name.startswith(package + ".")}
    used = [Path(importlib.util.find_spec(name).origin) for name in sorted(outside)]
    return hash_objects([p.read_text() for p in [*sources, *used]])


def _imported(source: Path) -> set[str]:
    """The eagergraph modules a module's source imports (`from eagergraph.x import …`, `import eagergraph.x`)."""
    found = set()
    for node in ast.walk(ast.parse(source.read_text())):
        names = [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else \
            [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
        found |= {name for name in names if name.startswith("eagergraph.")}
    return found


@dataclass
class StageFiles(CachePolicy):
    """The part of a data stage's key that Prefect has no policy for: its input files' content (never their
    paths or times), the data-logic package's source, and the artifacts folder whose store holds the outputs."""

    input_files: Callable[[dict[str, Any]], list[Path]] = field(default=lambda inputs: [])

    def compute_key(self, task_ctx: Any, inputs: dict[str, Any], flow_parameters: dict[str, Any], **kwargs: Any) -> str | None:
        store = Path(inputs[RUN_DIR]).parent.resolve()
        files = [content_digest(p, cache_state(store)) for p in self.input_files(inputs)]
        save_state(cache_state(store))
        return hash_objects({"store": str(store), "files": files, "logic": package_source_digest()},
                            raise_on_failure=True)


def stage_policy(input_files: Callable[[dict[str, Any]], list[Path]], exclude: list[str] | None = None) -> CachePolicy:
    """Prefect's TASK_SOURCE + INPUTS minus the run directory (and the parameters that are paths: their content is
    keyed instead), plus the stage's files."""
    policy = TASK_SOURCE + INPUTS - RUN_DIR
    for name in exclude or []:
        policy = policy - name
    return policy + StageFiles(input_files=input_files)


def publish(run_dir: str | Path, result: dict, outputs: list[Path]) -> dict:
    """Hard-link the stage's output files into the content-addressed store; the result records them by hash."""
    root = Path(run_dir)
    state = cache_state(root.resolve().parent)  # the one name the cache key uses too
    files = {}
    for path in outputs:
        digest = file_digest(path, final=True, state=state)  # written whole and renamed: trusted by its identity
        _place(path, cache_object(root.parent, digest))
        files[str(path.relative_to(root))] = digest
    save_state(state)
    return {**result, FILES: files}


def materialize(result: dict, run_dir: str | Path) -> bool:
    """Link the stage's files from the store into `run_dir`; False when an object is missing or damaged (then it
    is removed, so the stage's recomputed file takes its place)."""
    root = Path(run_dir)
    state = cache_state(root.resolve().parent)
    try:
        for relative, digest in result.get(FILES, {}).items():
            target = root / relative
            if target.exists():
                continue  # computed in this very run
            source = cache_object(root.parent, digest)
            if not source.is_file():
                return False
            if file_digest(source, final=True, state=state) != digest:  # read only if its identity moved
                source.unlink(missing_ok=True)
                return False
            _place(source, target)
        return True
    finally:
        save_state(state)


def _place(source: Path, target: Path) -> None:
    """A hard link (a copy across file systems), written under a temporary name and renamed into place."""
    if target.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.{uuid.uuid4().hex}")
    try:
        os.link(source, staging)
    except OSError:
        shutil.copy2(source, staging)
    os.replace(staging, target)  # concurrent writers of one object write the same bytes; either wins


def run_cached(seconds: dict[str, float], stage: Any, refresh: bool, run_dir: str, *args: Any,
               hits: set[str] | None = None, **kwargs: Any) -> dict:
    """Run a cached data stage like `run_stage` (`refresh` recomputes it whatever the cache holds), then link its
    files into `run_dir`; when the store lost them (a deleted cache folder) the stage computes again. A stage whose
    cached result was used, files and all, is named in `hits`."""
    started = time.perf_counter()
    found: set[str] = set()
    result = run_stage(seconds, stage.with_options(refresh_cache=True) if refresh else stage, run_dir, *args,
                       hits=found, **kwargs)
    if not materialize(result, run_dir):
        found.clear()
        result = run_stage(seconds, stage.with_options(refresh_cache=True), run_dir, *args, **kwargs)
        materialize(result, run_dir)
    if hits is not None:
        hits.update(found)
    seconds[stage.name] = time.perf_counter() - started
    return result


def data_input(inputs: dict[str, Any]) -> list[Path]:
    """ingest's input: the user's data file or folder (none for synthetic data, keyed by its parameters)."""
    return [Path(inputs["data"])] if inputs.get("data") else []


def raw_input(inputs: dict[str, Any]) -> list[Path]:
    return [RunPaths.of(inputs[RUN_DIR]).raw]


def normalized_inputs(inputs: dict[str, Any]) -> list[Path]:
    """engineer-features' inputs, keyed by content: every normalized split (train, validation, test)."""
    paths = RunPaths.of(inputs[RUN_DIR])
    return [paths.normalized(split) for split in SPLITS]


def is_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Retry condition: an OSError while reading is worth retrying; bad data (DataError) never is."""
    from eagergraph.errors import DataError

    error = state.data if isinstance(state.data, BaseException) else state.result(raise_on_failure=False)
    return isinstance(error, OSError) and not isinstance(error, DataError)


def stage_options(input_files: Callable[[dict[str, Any]], list[Path]], exclude: list[str] | None = None) -> dict:
    """@task options of a cached data stage: content-keyed, persisted as JSON (paths and small values only)."""
    return {"cache_policy": stage_policy(input_files, exclude), "persist_result": True, "result_serializer": "json"}

"""A run in progress: its id, its temporary directory under a lock, the move into place, and the removal of what
killed runs left behind (the run directory's names around a run's life, beside paths.py's layout). The same locked
directories (`lock_new`, `abandoned`) stage a scoring run's predictions (`eagergraph.scoring.score`)."""

from __future__ import annotations

import fcntl
import glob
import os
import re
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from eagergraph.errors import RegistryError
from eagergraph.io import locked

TMP_PREFIX = ".tmp-"  # a run in progress; never listed among completed runs
INIT_PREFIX = ".init-"  # a run directory in the instant before its owner locks it
LATEST = "latest"  # a symlink to the last complete run
ARTIFACTS_LOCK = ".lock"  # serializes "move into place, then point latest" across processes
INIT_GRACE_SECONDS = 60.0  # an .init- directory lives microseconds; one this old was abandoned
FLOW_RUN_FILE = "flow-run-id"  # in a temporary run directory: whose flow run it is, to mark it Crashed if abandoned


def new_run_id() -> str:
    """Unique and sortable by time: UTC timestamp to the microsecond plus a random suffix."""
    import secrets
    from datetime import datetime, timezone

    return f"{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%S%fZ')}-{secrets.token_hex(3)}"


def run_id_of(run_dir: Path) -> str:
    """The run id of a run directory, completed or still staged under its temporary name (`.tmp-<id>`)."""
    return Path(run_dir).name.removeprefix(TMP_PREFIX)


RUN_ID_PATTERN = re.compile(r"\d{8}T\d{12}Z-[0-9a-f]{6}")  # what new_run_id makes


@contextmanager
def _artifacts_locked(artifacts: Path) -> Iterator[None]:
    """Hold the artifacts folder's lock: one process at a time completes a run and moves `latest`."""
    with locked(artifacts / ARTIFACTS_LOCK):
        yield


def _point_latest(artifacts: Path, run_dir: Path) -> None:
    """Called with the artifacts lock held, so a staging link seen by anyone else is abandoned."""
    link = artifacts / LATEST
    staging = artifacts / f"{TMP_PREFIX}{LATEST}-{run_dir.name}"
    staging.symlink_to(run_dir.name)
    staging.replace(link)  # atomic: readers see the old run or the new one, never neither


def _owner_alive(directory: Path) -> bool:
    """Whether a live process holds the directory's lock (the kernel drops a dead process's locks, SIGKILL too)."""
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return True  # vanished or unreadable: not ours to remove
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def abandoned(parent: Path, prefix: str) -> list[Path]:
    """The directories `parent/prefix*` whose lock is free: their process died (a live writer holds the lock of its
    directory for its whole life, `lock_new`)."""
    if not Path(parent).is_dir():
        return []
    return [path for path in sorted(Path(parent).glob(f"{glob.escape(prefix)}*"))
            if path.is_dir() and not path.is_symlink() and not _owner_alive(path)]


def flow_runs_of(directories: list[Path]) -> list[str]:
    """The flow-run ids recorded in these directories (`FLOW_RUN_FILE`), read before they are removed."""
    ids = []
    for path in directories:
        try:
            ids.append((path / FLOW_RUN_FILE).read_text().strip())
        except OSError:
            continue
    return [i for i in ids if i]


def remove_stale(parent: Path, pattern: str) -> list[Path]:
    """Remove the directories `parent/pattern` older than INIT_GRACE_SECONDS: a directory in the instant before its
    owner locks it (`lock_new`) lives microseconds, so one this old was abandoned."""
    removed = []
    for path in Path(parent).glob(pattern):
        try:
            age = time.time() - path.lstat().st_mtime
        except FileNotFoundError:  # another run removed it first
            continue
        if age > INIT_GRACE_SECONDS:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def lock_new(fresh: Path, final: Path, flow_run_id: str | None) -> int:
    """Create `fresh`, lock it, record the flow run (`FLOW_RUN_FILE`) and rename it `final`, so that a directory
    named like `final` is locked from the moment it appears; the lock's descriptor (closing it releases the lock,
    as the kernel does when the process dies, SIGKILL too)."""
    fresh.mkdir()
    lock = os.open(fresh, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)  # nobody else knows `fresh` yet: never waits
        if flow_run_id:
            (fresh / FLOW_RUN_FILE).write_text(flow_run_id + "\n")
        fresh.rename(final)
    except BaseException:  # a full disk, a failed rename: the descriptor goes with the attempt
        os.close(lock)
        raise
    return lock


def sweep_abandoned(parent: Path, prefix: str, init_prefix: str) -> list[str]:
    """Remove what killed runs left in `parent` (SIGKILL, power loss), never a live run's directory: the
    directories `prefix*` whose lock is free (`abandoned`) and the stale `init_prefix*` ones (`remove_stale`).
    Returns the flow-run ids those runs recorded, read before the directories go (to be marked Crashed)."""
    left = abandoned(parent, prefix)
    crashed = flow_runs_of(left)
    for path in left:
        shutil.rmtree(path, ignore_errors=True)
    remove_stale(parent, f"{glob.escape(init_prefix)}*")
    return crashed


def remove_abandoned(artifacts: Path) -> list[str]:
    """What killed training runs left in the artifacts folder, removed (`sweep_abandoned`), with the `latest`
    staging links a run killed while moving `latest` left; the flow-run ids of those runs.

    Every run holds an exclusive lock on its temporary directory for its whole life, so a temporary directory
    whose lock is free belongs to a dead process, however recent. Age decides only for the two states that
    last microseconds: an unlocked `.init-` directory and a `latest` staging link.
    """
    crashed = sweep_abandoned(artifacts, TMP_PREFIX, INIT_PREFIX)
    with _artifacts_locked(artifacts):
        for path in artifacts.glob(f"{TMP_PREFIX}{LATEST}-*"):
            if path.is_symlink():
                path.unlink(missing_ok=True)
    return crashed


class StagedRun:
    """A run directory written under a temporary name and moved into place only when the run completes.

    A failed or interrupted run leaves nothing among completed runs and never touches earlier ones. The
    temporary directory is locked by its writer while it lives, which tells later runs whether a leftover
    one was abandoned by a killed process (they remove it) or is being written by a concurrent run.
    """

    def __init__(self, artifacts: Path, flow_run_id: str | None = None) -> None:
        self.artifacts = Path(artifacts)
        self.flow_run_id = flow_run_id
        self.crashed_flow_runs: list[str] = []  # flow runs of killed runs whose directories were removed
        self.run_id = new_run_id()
        self.work = self.artifacts / f"{TMP_PREFIX}{self.run_id}"
        self.final = self.artifacts / self.run_id
        self._lock: int | None = None

    def __enter__(self) -> "StagedRun":
        try:
            self.artifacts.mkdir(parents=True, exist_ok=True)
            self.crashed_flow_runs = remove_abandoned(self.artifacts)
            self._lock = lock_new(self.artifacts / f"{INIT_PREFIX}{self.run_id}", self.work, self.flow_run_id)
        except OSError as exc:
            raise RegistryError(f"--artifacts {self.artifacts}: cannot create run directories there "
                            f"({exc.strerror or exc})") from None
        return self

    def __exit__(self, kind: type | None, error: BaseException | None, traceback: object) -> None:
        try:
            if kind is not None:
                shutil.rmtree(self.work, ignore_errors=True)
                return
            with _artifacts_locked(self.artifacts):
                self.work.rename(self.final)
                _point_latest(self.artifacts, self.final)
        finally:
            if self._lock is not None:
                os.close(self._lock)
                self._lock = None

"""The leaf helpers every layer shares (data stages, run directory, registry, tasks): JSON files, file hashes and
writes that never leave a partial file.

It imports only eagergraph.errors (itself a leaf), so `data/` and `rundir/` both use it without importing each other.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import blake3

from eagergraph.errors import DataError

HASH_BLOCK = 1 << 20  # bytes read per update: large enough to hash at disk speed, small enough to stay flat in memory
# The file hash of the cache, the manifest and the registry is BLAKE3 (256-bit, hex; the `blake3` package, its
# authors' own bindings). It is not a security boundary (it names content the run wrote itself, to find it again and to
# show it changed), and BLAKE3 is a cryptographic hash anyway, so moving off sha256 weakened nothing; it is 3x faster
# on one thread (a 829 MB Parquet file, measured under load: sha256 1.6 s, BLAKE3 0.45-0.54 s, BLAKE3 on two threads
# 0.6-0.95 s, as the other core is busy), which is about 3 s of a 10M-row run. Its name is the manifest's key
# (`DIGEST`), so a reader can tell it from the sha256 digests of manifests written before the move (those runs' cache
# entries simply miss once). Hashing each file several times per run (the cache on publish, the next stage's cache
# key, the manifest, the registry) cost more than the algorithm: so the digest of a file that is final (written whole
# under a temporary name, renamed, never changed in place: the run directory's files and the cache's store) is
# remembered by the file's identity, see `file_digest`; the cache also keeps those digests in a state file, so a later
# run (a cache hit) reads none of its files again.
DIGEST = "blake3"
DATA_DIGEST = f"data_{DIGEST}"  # the registry's field for the digest of a run's raw.parquet
_DIGESTS: dict[tuple[int, int, int, int], str] = {}  # (device, inode, size, mtime_ns) -> hex digest
_DIGESTS_KEPT = 1 << 16  # entries before the memory starts afresh: a run holds a few hundred files
_STATES: dict[Path, tuple[tuple[int, int, int, int] | None, dict[tuple[int, int, int, int], str]]] = {}  # state files read
_PENDING: dict[Path, dict[tuple[int, int, int, int], str]] = {}  # digests for a state file, until `save_state`
STATE_KEPT = 4096  # entries a state file keeps, newest last (about 0.5 MB): a run adds about ten
RACY_NS = 2 * 10**9  # how much older than its hash a file that is not final must be for its digest to be remembered
_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")


def temporary_beside(path: Path) -> Path:
    """A unique hidden name in `path`'s own folder, so the final rename stays on one file system (atomic)."""
    return path.with_name(f".{path.name}.{uuid.uuid4().hex}.partial")


def write_failed(path: Path, error: OSError) -> DataError:
    """The one-line error of a write that failed (a full disk, mostly): the path and the free space where it goes."""
    try:
        free = f"{shutil.disk_usage(path.parent).free / 2**20:,.1f} MiB free"
    except OSError:
        free = "free space unknown"
    reason = error.strerror or type(error).__name__
    return DataError(f"{path}: could not be written ({reason}; {free} on its file system); nothing was left in its place")


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary name beside `path` to write; rename it into place only when the block completes.

    On any error the temporary file is removed, so a later stage or run never reads a partial file under `path`;
    an OSError (ENOSPC above all) becomes `write_failed`'s one-line DataError.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = temporary_beside(path)
    try:
        yield staging
        os.replace(staging, path)
    except BaseException as error:
        staging.unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise write_failed(path, error) from error
        raise


def write_json(path: Path, payload: Any) -> Path:
    """Write `payload` as indented, key-sorted JSON (diff-friendly), creating the folder; all or nothing; returns
    the path."""
    path = Path(path)
    text = json.dumps(payload, indent=2, sort_keys=True) + "\n"
    with atomic_path(path) as staging:
        staging.write_text(text)
    return path


def read_json(path: Path) -> Any:
    """The JSON document stored at `path`."""
    return json.loads(Path(path).read_text())


def append_json_line(path: Path, entry: dict[str, Any]) -> None:
    """One JSON line appended with one write(2) on an O_APPEND descriptor (appenders never interleave), flushed to
    disk before it returns."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (json.dumps(entry, sort_keys=True, default=str) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def read_json_lines(path: Path) -> list[dict[str, Any]]:
    """Every entry of a JSON-lines file, oldest first (none when it is absent); a line cut short by a crash
    mid-write is skipped."""
    entries = []
    for line in Path(path).read_text().splitlines() if Path(path).is_file() else []:
        try:
            entries.append(json.loads(line))
        except ValueError:
            continue
    return entries


@contextlib.contextmanager
def locked(path: Path, mode: int = 0o644) -> Iterator[None]:
    """Hold an exclusive lock on `path`: a directory, or a lock file (created with `mode` if absent). Waits for
    the holder; the kernel releases the lock when the descriptor closes or the process dies (SIGKILL too)."""
    flags = os.O_RDONLY | os.O_DIRECTORY if Path(path).is_dir() else os.O_RDWR | os.O_CREAT
    fd = os.open(path, flags, mode)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _identity(path: Path) -> tuple[int, int, int, int]:
    """What changes whenever a file's bytes can have changed: the run directory's files are written under a temporary
    name and renamed (a new inode), a write in place moves the modification time, and hard links into the cache's
    store share the inode and its digest. (Not the change time: linking and renaming move it, the bytes stay.)"""
    st = os.stat(path)
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def file_digest(path: Path, *, final: bool = False, state: Path | None = None) -> str:
    """Hex BLAKE3 of a file's bytes, read in blocks: the one file hash of the cache, the manifest and the registry.

    A digest is remembered by the file's identity (device, inode, size, modification time) for this process, and
    also in the state file `state` when one is given (the cache's, so a later run trusts it without reading the file
    again; written by `save_state`). It is remembered when the file is `final` (never changed in place once written:
    the run directory's files and the store's, so the cache's hash on publish is the one the next stage's key, the
    manifest and the registry get; a renamed run directory and hard links share the identity), or, for any other file
    (the user's data), only once its modification time is `RACY_NS` older than the hash: a change in place within one
    tick of the file system's clock keeps the size and the modification time, so a fresh file's identity cannot vouch
    for its content (git's "racily clean" rule); an older file rewritten in place gets a new modification time.
    """
    identity = _identity(path)
    known = _DIGESTS.get(identity)
    if known is not None:
        return known
    known = _load_state(Path(state)).get(identity) if state is not None else None
    if known is not None:
        remember_digest(identity, known)  # this process's later readers (the manifest, the registry) find it too
        return known
    started = time.time_ns()
    digest = blake3.blake3()  # one thread: two were slower beside a busy core (above)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(HASH_BLOCK), b""):
            digest.update(block)
    hexdigest = digest.hexdigest()
    if (final or identity[3] < started - RACY_NS) and _identity(path) == identity:  # unchanged while it was read
        remember_digest(identity, hexdigest, state)
    return hexdigest


def remember_digest(identity: tuple[int, int, int, int], digest: str, state: Path | None = None) -> None:
    """Remember `digest` for a file identity in this process and, given a state file, queue it for `save_state`."""
    if len(_DIGESTS) >= _DIGESTS_KEPT:
        _DIGESTS.clear()
    _DIGESTS[identity] = digest
    if state is not None:
        _PENDING.setdefault(Path(state), {})[identity] = digest


def save_state(state: Path) -> None:
    """Add the digests queued for the state file `state` (DVC's "state" idea: identity → digest) to it, once per
    cache operation rather than per file (a folder of many partitions).

    The file is rewritten whole under a temporary name and renamed, so a reader sees the old or the new file, never
    a torn one; it keeps the newest `STATE_KEPT` entries. Two runs writing at once may each drop the other's new
    entries: that costs a hash later, never a wrong digest. A state file that cannot be written (a full disk, a
    read-only folder) is skipped: it only saves work.
    """
    state = Path(state)
    pending = _PENDING.pop(state, None)
    if not pending:
        return
    entries = _read_state(state)
    for identity, digest in pending.items():
        entries.pop(identity, None)  # re-inserted last: the newest entries
        entries[identity] = digest
    kept = list(entries.items())[-STATE_KEPT:]
    payload = {"hash": DIGEST, "entries": [[*identity, digest] for identity, digest in kept]}
    try:
        with atomic_path(state) as staging:
            staging.write_text(json.dumps(payload, separators=(",", ":")))
    except (OSError, DataError):
        return
    _STATES[state] = (_state_identity(state), dict(kept))


def _load_state(state: Path) -> dict[tuple[int, int, int, int], str]:
    """The state file's entries, read again only when the file changed (another run added to it)."""
    current = _state_identity(state)
    loaded = _STATES.get(state)
    if loaded is None or loaded[0] != current:
        loaded = _STATES[state] = (current, _read_state(state))
    return loaded[1]


def _state_identity(state: Path) -> tuple[int, int, int, int] | None:
    try:
        return _identity(state)
    except OSError:
        return None


def _read_state(state: Path) -> dict[tuple[int, int, int, int], str]:
    """The entries of a state file, oldest first; a missing, torn, foreign or corrupt file (or entry) reads as
    nothing, so the worst it costs is hashing the files again."""
    try:
        payload = json.loads(state.read_bytes())
    except (OSError, ValueError):
        return {}
    if not isinstance(payload, dict) or payload.get("hash") != DIGEST or not isinstance(payload.get("entries"), list):
        return {}
    entries = {}
    for entry in payload["entries"]:
        if (isinstance(entry, list) and len(entry) == 5 and all(type(n) is int for n in entry[:4])
                and isinstance(entry[4], str) and _HEX_DIGEST.fullmatch(entry[4])):
            entries[tuple(entry[:4])] = entry[4]
    return entries

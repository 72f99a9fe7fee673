"""The leaf helpers every layer shares (data stages, run directory, registry, tasks): JSON files, file hashes and
writes that never leave a partial file.

It imports only eagergraph.errors (itself a leaf), so `data/` and `rundir/` both use it without importing each other.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
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
# remembered by the file's identity, see `file_digest`.
DIGEST = "blake3"
DATA_DIGEST = f"data_{DIGEST}"  # the registry's field for the digest of a run's raw.parquet
_DIGESTS: dict[tuple[int, int, int, int], str] = {}  # (device, inode, size, mtime_ns) -> hex digest
_DIGESTS_KEPT = 1 << 16  # entries before the memory starts afresh: a run holds a few hundred files


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


def _identity(path: Path) -> tuple[int, int, int, int]:
    """What changes whenever a file's bytes can have changed: the run directory's files are written under a temporary
    name and renamed (a new inode), a write in place moves the modification time, and hard links into the cache's
    store share the inode and its digest. (Not the change time: linking and renaming move it, the bytes stay.)"""
    st = os.stat(path)
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def file_digest(path: Path, *, final: bool = False) -> str:
    """Hex BLAKE3 of a file's bytes, read in blocks: the one file hash of the cache, the manifest and the registry.

    A digest taken with `final=True` is remembered by the file's identity (device, inode, size, modification time)
    for this process: pass it only for files that are never changed in place once written (the run directory's and
    the store's), so the cache's hash on publish is the one the next stage's cache key, the manifest and the registry
    get, without reading the file again (a renamed run directory and hard links share the identity). Any other file
    (the user's data) is read every time: a change in place within one tick of the file system's clock keeps the
    size and the modification time, so its identity cannot vouch for its content.
    """
    identity = _identity(path)
    known = _DIGESTS.get(identity)
    if known is not None:
        return known
    digest = blake3.blake3()  # one thread: two were slower beside a busy core (above)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(HASH_BLOCK), b""):
            digest.update(block)
    if final:
        if len(_DIGESTS) >= _DIGESTS_KEPT:
            _DIGESTS.clear()
        _DIGESTS[identity] = digest.hexdigest()
    return digest.hexdigest()

"""The leaf helpers every layer shares (data stages, run directory, registry, tasks): JSON files and file hashes.

It imports nothing from eagergraph, so `data/` and `rundir/` both use it without importing each other.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

HASH_BLOCK = 1 << 20  # bytes read per update: large enough to hash at disk speed, small enough to stay flat in memory


def write_json(path: Path, payload: Any) -> Path:
    """Write `payload` as indented, key-sorted JSON (diff-friendly), creating the folder; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
    return path


def read_json(path: Path) -> Any:
    """The JSON document stored at `path`."""
    return json.loads(Path(path).read_text())


def sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes, read in blocks (the manifest's, the cache's and the registry's file hash)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(HASH_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()

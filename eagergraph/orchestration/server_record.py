"""The background server's record: a small JSON file in the Prefect home (one per user, Prefect's convention) that
says where the server listens and which process group to stop, and the profile value `server stop` puts back."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from eagergraph.io import atomic_path

RECORD_NAME = "eagergraph-server.json"  # in the Prefect home: where the background server listens, its pid


class ServerError(RuntimeError):
    """The local server could not be started; the message is one line that says what to do."""


@dataclass(frozen=True)
class ServerRecord:
    """A background server: its API URL and the process (group leader) to stop; the Prefect profile pointed at it
    by `server start`, and the PREFECT_API_URL that profile held before (None: none), put back by `server stop`."""

    url: str
    pid: int
    port: int
    log: str
    profile: str | None = None
    previous_api_url: str | None = None
    added_active: bool = False  # the profiles file named no active profile: `active` was written, and is removed


def prefect_home() -> Path:
    """The Prefect home: PREFECT_HOME when the user set it, else Prefect's default, one per user."""
    return Path(os.environ.get("PREFECT_HOME") or "~/.prefect").expanduser().resolve()


def read_record(home: Path) -> ServerRecord | None:
    try:
        return ServerRecord(**json.loads((home / RECORD_NAME).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def write_record(home: Path, record: ServerRecord) -> None:
    with atomic_path(home / RECORD_NAME) as staging:
        staging.write_text(json.dumps(asdict(record)) + "\n")

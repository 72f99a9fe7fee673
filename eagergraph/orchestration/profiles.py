"""The active Prefect profile pointed at the local server (PREFECT_API_URL in the profiles file, as `prefect config
set` does), so plain `prefect` commands (`deploy`, `worker start`) reach it, and what it held put back on stop. The
file is read and written without importing Prefect."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from eagergraph.io import atomic_path
from eagergraph.orchestration.server_record import ServerError, ServerRecord, write_record

API_URL_SETTING = "PREFECT_API_URL"


def profiles_path(home: Path) -> Path:
    """Prefect's profiles file: PREFECT_PROFILES_PATH when set, else profiles.toml in the Prefect home."""
    given = os.environ.get("PREFECT_PROFILES_PATH")
    return Path(given.replace("${PREFECT_HOME}", str(home))).expanduser() if given else home / "profiles.toml"


def _read_profiles(home: Path, strict: bool = False) -> dict:
    """The profiles file as a dict ({} when there is none). `strict`, for a caller that will write it: a file that
    is not valid TOML is a ServerError, never overwritten."""
    import tomllib

    path = profiles_path(home)
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        if strict:
            raise ServerError(f"{path}: cannot read the Prefect profiles ({exc}); fix or move the file") from None
        return {}


def _write_profiles(home: Path, profiles: dict) -> None:
    """Write the profiles file as Prefect does (its own `toml` dependency), atomically; no file when it is empty."""
    import toml

    path = profiles_path(home)
    if not profiles:
        path.unlink(missing_ok=True)
        return
    with atomic_path(path) as staging:  # a name of its own: two writers never share one; removed on failure
        staging.write_text(toml.dumps(profiles))
        staging.chmod(0o600)


def active_profile(profiles: dict) -> str:
    """The profile Prefect uses: PREFECT_PROFILE, else the file's `active`, else Prefect's default."""
    return os.environ.get("PREFECT_PROFILE") or profiles.get("active") or "ephemeral"


def _names_active(profiles: dict) -> bool:
    """Whether Prefect's settings read this file's table of the active profile: only when the profile is named
    (PREFECT_PROFILE or `active`); otherwise they take Prefect's built-in default profile, whatever the file holds
    under the same name (`prefect config view` shows the file's table all the same)."""
    return bool(os.environ.get("PREFECT_PROFILE") or profiles.get("active"))


def profile_api_url(home: Path) -> str | None:
    """PREFECT_API_URL of the active Prefect profile (profiles.toml), read without importing Prefect."""
    profiles = _read_profiles(home)
    if not _names_active(profiles):
        return None
    return (profiles.get("profiles", {}).get(active_profile(profiles)) or {}).get(API_URL_SETTING)


def point_profile(home: Path, record: ServerRecord, earlier: ServerRecord | None = None) -> ServerRecord:
    """Set PREFECT_API_URL of the active profile to this server (`prefect config set PREFECT_API_URL=…`, done on the
    file), and record what the profile held so `stop` can put it back; the updated record. `earlier`: the record
    of a server this one replaces, whose profile value is still the one to put back. ServerError when the profiles
    file cannot be read."""
    profiles = _read_profiles(home, strict=True)
    name = active_profile(profiles)
    settings = profiles.setdefault("profiles", {}).setdefault(name, {})
    ours = earlier if earlier is not None and earlier.profile else record
    again = ours.profile == name and settings.get(API_URL_SETTING) == ours.url  # already pointed by eagergraph
    previous = ours.previous_api_url if again else settings.get(API_URL_SETTING)
    added_active = ours.added_active if again else not _names_active(profiles)
    if not _names_active(profiles):
        profiles["active"] = name  # as `prefect config set` writes it: without it Prefect's settings skip the table
    settings[API_URL_SETTING] = record.url
    _write_profiles(home, profiles)
    pointed = replace(record, profile=name, previous_api_url=previous, added_active=added_active)
    write_record(home, pointed)
    return pointed


def restore_profile(home: Path, record: ServerRecord) -> None:
    """Put back the PREFECT_API_URL the profile held before `point_profile` (none: the key removed, and the table
    and file when nothing else is left in them); a value the user has set since is theirs and stays, and so does
    a file that cannot be read."""
    try:
        profiles = _read_profiles(home, strict=True)
    except ServerError:
        return
    settings = profiles.get("profiles", {}).get(record.profile or "")
    if settings is None or settings.get(API_URL_SETTING) != record.url:
        return
    if record.previous_api_url is not None:
        settings[API_URL_SETTING] = record.previous_api_url
    else:
        del settings[API_URL_SETTING]
        if not settings:
            del profiles["profiles"][record.profile]
        if not profiles["profiles"]:
            del profiles["profiles"]
    if record.added_active and profiles.get("active") == record.profile:
        del profiles["active"]
    _write_profiles(home, profiles)

"""The Prefect profile that `eagergraph server start` points at the local server, and `server stop` puts back:
real profiles files in a temporary Prefect home, read back with tomllib as Prefect reads them."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from eagergraph.orchestration.local_server import connect
from eagergraph.orchestration.profiles import point_profile, profile_api_url, restore_profile
from eagergraph.orchestration.server_record import RECORD_NAME, ServerError, ServerRecord, read_record, write_record

URL = "http://127.0.0.1:4321/api"
NO_PROCESS = 2 ** 22 - 3  # no live process (as the CLI tests' dead record): the session cleanup stops recorded servers


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    for name in ("PREFECT_PROFILE", "PREFECT_PROFILES_PATH", "PREFECT_API_URL", "EAGERGRAPH_EPHEMERAL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path))
    yield tmp_path
    (tmp_path / RECORD_NAME).unlink(missing_ok=True)


def _point(home: Path, url: str = URL, earlier: ServerRecord | None = None) -> ServerRecord:
    record = ServerRecord(url=url, pid=NO_PROCESS, port=int(url.split(":")[2].split("/")[0]), log="log")
    write_record(home, record)
    return point_profile(home, record, earlier)


def test_no_profiles_file_gets_one_for_prefects_default_profile_and_loses_it_on_restore(home: Path) -> None:
    record = _point(home)
    assert record.profile == "ephemeral" and record.previous_api_url is None
    assert read_record(home) == record  # what stop reads
    # `active` written too, as `prefect config set` does: without it Prefect's settings ignore the table
    assert tomllib.loads((home / "profiles.toml").read_text()) == {"active": "ephemeral",
                                                                   "profiles": {"ephemeral": {"PREFECT_API_URL": URL}}}
    assert profile_api_url(home) == URL
    restore_profile(home, record)
    assert not (home / "profiles.toml").exists()


def test_the_active_profiles_value_comes_back_and_other_settings_and_profiles_stay(home: Path) -> None:
    original = {"active": "mine", "profiles": {"mine": {"PREFECT_API_URL": "http://elsewhere/api",
                                                        "PREFECT_LOGGING_LEVEL": "WARNING"},
                                               "other": {"PREFECT_API_URL": "http://other/api"}}}
    import toml

    (home / "profiles.toml").write_text(toml.dumps(original))
    record = _point(home)
    assert (record.profile, record.previous_api_url) == ("mine", "http://elsewhere/api")
    assert profile_api_url(home) == URL
    # `server start` again finds the running server's record: the value to put back is still the user's
    assert point_profile(home, read_record(home)) == record
    restore_profile(home, record)
    assert tomllib.loads((home / "profiles.toml").read_text()) == original


def test_a_value_the_user_set_since_is_theirs(home: Path) -> None:
    record = _point(home)
    text = (home / "profiles.toml").read_text().replace(URL, "http://theirs/api")
    (home / "profiles.toml").write_text(text)
    restore_profile(home, record)
    assert profile_api_url(home) == "http://theirs/api"


def test_a_restarted_server_takes_over_the_profile_and_its_value_to_put_back(home: Path) -> None:
    import toml

    original = {"active": "ephemeral", "profiles": {"ephemeral": {"PREFECT_API_URL": "http://old/api"}}}
    (home / "profiles.toml").write_text(toml.dumps(original))
    dead = _point(home)
    new = _point(home, "http://127.0.0.1:4999/api", earlier=dead)  # the old port was taken: another one
    assert new.previous_api_url == "http://old/api" and profile_api_url(home) == "http://127.0.0.1:4999/api"
    restore_profile(home, new)
    assert tomllib.loads((home / "profiles.toml").read_text()) == original


def test_connect_keeps_a_users_own_profile_url_and_overrides_ours_for_the_temporary_server(home: Path) -> None:
    import toml

    theirs = {"active": "ephemeral", "profiles": {"ephemeral": {"PREFECT_API_URL": "http://theirs/api"}}}
    (home / "profiles.toml").write_text(toml.dumps(theirs))
    assert connect()[:2] == ("http://theirs/api", "configured")
    (home / "profiles.toml").unlink()
    _point(home)
    url, how, settings = connect(ephemeral=True)  # ours in the profile: --ephemeral must not use it
    assert (url, how) == (None, "temporary")
    assert settings["PREFECT_API_URL"] == "" and settings["PREFECT_SERVER_EPHEMERAL_ENABLED"] == "true"


def test_a_profiles_file_that_is_not_toml_is_refused_and_left_as_it_is(home: Path) -> None:
    (home / "profiles.toml").write_text("active = [unclosed\n")
    with pytest.raises(ServerError, match="profiles.toml: cannot read the Prefect profiles"):
        _point(home)
    restore_profile(home, ServerRecord(url=URL, pid=NO_PROCESS, port=4321, log="log", profile="ephemeral"))
    assert (home / "profiles.toml").read_text() == "active = [unclosed\n"


def test_a_profiles_file_that_names_no_active_profile_gets_active_and_loses_it_again(home: Path) -> None:
    """Prefect's settings read a profile's table only when the file (or PREFECT_PROFILE) names it; a table under
    the default profile's name alone is not read, so eagergraph does not count it either."""
    import toml

    original = {"profiles": {"ephemeral": {"PREFECT_LOGGING_LEVEL": "WARNING", "PREFECT_API_URL": "http://x/api"}}}
    (home / "profiles.toml").write_text(toml.dumps(original))
    assert profile_api_url(home) is None  # as Prefect's settings see it
    record = _point(home)
    assert record.added_active and tomllib.loads((home / "profiles.toml").read_text())["active"] == "ephemeral"
    restore_profile(home, record)
    assert tomllib.loads((home / "profiles.toml").read_text()) == original

"""The one file hash (BLAKE3, see eagergraph.io): each file's bytes are read once per process, and a changed file is
read again."""

from __future__ import annotations

import builtins
import os

import blake3
import pytest

import eagergraph.io as eio
from eagergraph.io import file_digest, write_json
from eagergraph.rundir.manifest import file_inventory


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files eagergraph.io opens, in order."""
    opened: list[str] = []

    def counting_open(path, *args, **kwargs):
        opened.append(os.path.basename(path))
        return builtins.open(path, *args, **kwargs)

    monkeypatch.setattr(eio, "open", counting_open, raising=False)
    return opened


def test_a_file_is_read_once_and_its_links_and_new_name_share_the_digest(tmp_path, reads):
    data = tmp_path / "raw.parquet"
    data.write_bytes(os.urandom(3 << 20))
    expected = blake3.blake3(data.read_bytes()).hexdigest()
    assert file_digest(data, final=True) == expected and file_digest(data) == expected
    linked = tmp_path / "store-object"
    os.link(data, linked)  # the cache's store holds hard links
    moved = tmp_path / "final" / "raw.parquet"
    moved.parent.mkdir()
    os.replace(data, moved)  # the staged run directory renamed into place
    assert file_digest(linked) == expected and file_digest(moved) == expected
    assert reads == ["raw.parquet"]


def test_a_changed_file_is_read_again(tmp_path, reads):
    path = tmp_path / "metrics.json"
    write_json(path, {"auc": 0.5})
    first = file_digest(path, final=True)
    write_json(path, {"auc": 0.7})  # the same size, a new file renamed into place
    assert file_digest(path, final=True) == blake3.blake3(path.read_bytes()).hexdigest() != first
    data = tmp_path / "data.csv"  # the user's file: changed in place, the same size, within one clock tick
    data.write_text("a,y\n1,0\n")
    before = file_digest(data)
    data.write_text("a,y\n2,0\n")
    assert file_digest(data) == blake3.blake3(data.read_bytes()).hexdigest() != before
    assert reads == ["metrics.json", "metrics.json", "data.csv", "data.csv"]


def test_the_manifest_reuses_digests_the_cache_already_took(tmp_path, reads):
    (tmp_path / "raw.parquet").write_bytes(b"rows")
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "saved_model.pb").write_bytes(b"graph")
    published = file_digest(tmp_path / "raw.parquet", final=True)  # what the cache's publish computed
    inventory = {entry["path"]: entry for entry in file_inventory(tmp_path)}
    assert inventory["raw.parquet"]["blake3"] == published and inventory["raw.parquet"]["bytes"] == 4
    assert inventory["models/saved_model.pb"]["blake3"] == blake3.blake3(b"graph").hexdigest()
    assert sorted(reads) == ["raw.parquet", "saved_model.pb"]


def test_publish_then_the_next_key_the_manifest_and_a_renamed_run_read_the_file_once(tmp_path, reads):
    from eagergraph.orchestration.caching import content_digest, publish

    run = tmp_path / "artifacts" / ".staging-run"
    run.mkdir(parents=True)
    (run / "raw.parquet").write_bytes(os.urandom(1 << 20))
    result = publish(run, {}, [run / "raw.parquet"])  # ingest's publish into the store
    assert content_digest(run / "raw.parquet") == [("", result["files"]["raw.parquet"])]  # normalize's cache key
    final = run.with_name("run-1")
    os.replace(run, final)  # the staged run renamed into place before the registry records it
    assert {e["path"]: e["blake3"] for e in file_inventory(final)} == result["files"]
    assert file_digest(final / "raw.parquet") == result["files"]["raw.parquet"]  # record-verdict's data hash
    assert reads == ["raw.parquet"]


def test_a_run_recorded_before_the_move_to_blake3_can_still_be_promoted(tmp_path):
    """Manifests written while the hash was sha256 name it by that key: the registry reads no BLAKE3 digest there
    (None, not a sha256 passed off as one) and the promotion goes through."""
    import json

    from eagergraph.registry.registry import promote

    run = tmp_path / "20260101T000000000000Z-a"
    (run / "models" / "graph").mkdir(parents=True)
    (run / "models" / "graph" / "saved_model.pb").write_bytes(b"")
    (run / "manifest.json").write_text(json.dumps({"flow_run_id": "f", "files": [
        {"path": "raw.parquet", "bytes": 4, "sha256": "ab" * 32}]}))
    (run / "metrics.json").write_text(json.dumps({"graph": {"auc": 0.9}}))
    entry = promote(tmp_path, run)
    assert entry["production"] == run.name and entry["data_blake3"] is None

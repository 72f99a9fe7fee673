"""The one file hash (BLAKE3, see eagergraph.io): each file's bytes are read once per process, and once for later runs
through the cache's state file; a file whose identity (inode, size, modification time) moved is read again."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import blake3
import pytest

import eagergraph.io as eio
from conftest import count_opens, forget_digests
from eagergraph.io import file_digest, save_state, write_json
from eagergraph.rundir.manifest import file_inventory
from eagergraph.rundir.paths import cache_object, cache_state


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files eagergraph.io opens, in order."""
    return count_opens(monkeypatch)


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


@pytest.fixture
def new_process(monkeypatch: pytest.MonkeyPatch):
    """Forget what this process remembered, as a later run (a process of its own) starts."""
    return lambda: forget_digests(monkeypatch)


def _touch(path, seconds_ago: float) -> None:
    """Set the file's modification time `seconds_ago` before now (a change in place moves it, an old file has it)."""
    stamp = time.time_ns() - int(seconds_ago * 1e9)
    os.utime(path, ns=(stamp, stamp))


def test_a_later_run_trusts_the_state_and_reads_only_the_file_whose_identity_moved(tmp_path, reads, new_process):
    state = cache_state(tmp_path)
    one, two = tmp_path / "one.parquet", tmp_path / "two.parquet"
    one.write_bytes(os.urandom(1 << 20))
    two.write_bytes(os.urandom(1 << 20))
    digests = [file_digest(p, final=True, state=state) for p in (one, two)]  # the cache's publish
    save_state(state)
    new_process()
    reads.clear()
    assert [file_digest(p, final=True, state=state) for p in (one, two)] == digests
    assert file_digest(one, final=True) == digests[0]  # the manifest, later in that run, reuses the state's digest
    assert reads == []
    with open(two, "r+b") as handle:  # damaged in place: the same size, a new modification time
        handle.write(b"\0" * 16)
    _touch(two, -1)
    new_process()
    assert file_digest(two, final=True, state=state) == blake3.blake3(two.read_bytes()).hexdigest() != digests[1]
    assert reads == ["two.parquet"]


def test_the_users_file_is_remembered_only_once_older_than_a_clock_tick(tmp_path, reads, new_process):
    state = cache_state(tmp_path)
    data = tmp_path / "data.csv"
    data.write_text("a,y\n1,0\n")
    file_digest(data, state=state)  # just written: it may still change in place within this clock tick
    save_state(state)
    new_process()
    file_digest(data, state=state)
    assert reads == ["data.csv", "data.csv"]
    _touch(data, eio.RACY_NS / 1e9 + 5)  # an older file
    old = file_digest(data, state=state)
    save_state(state)
    new_process()
    assert file_digest(data, state=state) == old and reads == ["data.csv"] * 3
    data.write_text("a,y\n2,0\n")  # rewritten in place, the same size: its modification time moved
    assert file_digest(data, state=state) == blake3.blake3(data.read_bytes()).hexdigest() != old
    assert reads == ["data.csv"] * 4


@pytest.mark.parametrize("damage", [b"", b'{"hash":"blake3","entries":[[1,2', b"\x00\xff\xfe", b"[1, 2]",
                                    b'{"hash":"sha256","entries":[]}',
                                    b'{"hash":"blake3","entries":[[1,2,3,"4","ab"],{"x":1},[1,2,3,4,"ZZ"]]}'])
def test_a_torn_or_corrupt_state_file_is_ignored_then_replaced(tmp_path, reads, new_process, damage):
    state = cache_state(tmp_path)
    state.parent.mkdir(parents=True)
    state.write_bytes(damage)
    data = tmp_path / "raw.parquet"
    data.write_bytes(os.urandom(1 << 16))
    expected = blake3.blake3(data.read_bytes()).hexdigest()
    assert file_digest(data, final=True, state=state) == expected and reads == ["raw.parquet"]
    save_state(state)
    new_process()
    assert file_digest(data, final=True, state=state) == expected and reads == ["raw.parquet"]  # now from the state
    assert [entry[-1] for entry in json.loads(state.read_text())["entries"]] == [expected]


def test_the_state_keeps_its_newest_entries_and_a_state_that_cannot_be_written_is_skipped(tmp_path, monkeypatch):
    monkeypatch.setattr(eio, "STATE_KEPT", 2)
    state = cache_state(tmp_path)
    files = [tmp_path / f"{n}.bin" for n in range(3)]
    for n, path in enumerate(files):
        path.write_bytes(bytes([n]) * 10)
    digests = [file_digest(p, final=True, state=state) for p in files]
    save_state(state)
    assert [entry[-1] for entry in json.loads(state.read_text())["entries"]] == digests[1:]
    blocked = tmp_path / "a-file" / "state.json"  # its folder is a file: the write fails, the digest does not
    blocked.parent.write_text("")
    path = tmp_path / "more.bin"
    path.write_bytes(b"more")
    assert file_digest(path, final=True, state=blocked) == blake3.blake3(b"more").hexdigest()
    save_state(blocked)
    assert not blocked.exists()


def test_a_damaged_store_object_is_never_linked_and_the_recomputed_file_replaces_it(tmp_path, reads, new_process):
    from eagergraph.orchestration.caching import materialize, publish

    artifacts = tmp_path / "artifacts"
    first = artifacts / "run-1"
    first.mkdir(parents=True)
    content = os.urandom(1 << 20)
    (first / "raw.parquet").write_bytes(content)
    result = publish(first, {}, [first / "raw.parquet"])
    digest = result["files"]["raw.parquet"]
    new_process()  # a hit in a later run: linked without reading the object
    reads.clear()
    assert materialize(result, artifacts / "run-2") and (artifacts / "run-2" / "raw.parquet").read_bytes() == content
    assert reads == []
    with open(cache_object(artifacts, digest), "r+b") as handle:  # damaged in place (and so in every run it is in)
        handle.write(b"\0" * 64)
    _touch(cache_object(artifacts, digest), -1)
    new_process()
    assert not materialize(result, artifacts / "run-3")  # detected: the stage computes again
    assert not (artifacts / "run-3" / "raw.parquet").exists() and not cache_object(artifacts, digest).exists()
    (artifacts / "run-3").mkdir()
    (artifacts / "run-3" / "raw.parquet").write_bytes(content)  # the recomputed file, published into the store
    assert publish(artifacts / "run-3", {}, [artifacts / "run-3" / "raw.parquet"])["files"] == result["files"]
    assert cache_object(artifacts, digest).read_bytes() == content and materialize(result, artifacts / "run-4")


def test_a_folder_of_many_files_costs_one_state_write(tmp_path, monkeypatch):
    from eagergraph.orchestration.caching import content_digest

    folder = tmp_path / "partitions"
    folder.mkdir()
    for n in range(50):
        (folder / f"part-{n:02}.parquet").write_bytes(bytes([n]) * 100)
        _touch(folder / f"part-{n:02}.parquet", eio.RACY_NS / 1e9 + 5)  # the user's files, written long ago
    writes: list[str] = []
    real = eio.atomic_path

    def counting(path):
        writes.append(os.path.basename(path))
        return real(path)

    monkeypatch.setattr(eio, "atomic_path", counting)
    state = cache_state(tmp_path)
    content_digest(folder, state)
    save_state(state)
    assert writes == ["state.json"] and len(json.loads(state.read_text())["entries"]) == 50


def test_the_data_stages_cache_key_covers_the_modules_outside_data_they_import(monkeypatch: pytest.MonkeyPatch) -> None:
    """normalize's statistics come from eagergraph/moments.py: editing it must invalidate cached data stages as an
    edit of eagergraph/data/ does."""
    from eagergraph.orchestration.caching import package_source_digest

    before = package_source_digest()
    read = Path.read_text
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: read(self, *a, **k) + ("\n# edited" if self.name == "moments.py" else ""))
    assert package_source_digest() != before

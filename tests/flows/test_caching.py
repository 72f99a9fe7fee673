"""Caching of ingest, normalize and engineer-features across runs, against the session's real Prefect server."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

import eagergraph.io as eio
from conftest import count_opens, forget_digests
from eagergraph.orchestration.caching import content_digest
from eagergraph.rundir.paths import RunPaths, cache_object

CACHED = ["ingest", "normalize", "engineer-features"]
# What the cache does is read from each stage's state (Cached or Completed), never from wall-clock time: small data,
# one short epoch.
SETTINGS = dict(rows=2_000, epochs=1, batch_size=256)


def _run(artifacts: Path, **overrides) -> dict:
    from eagergraph.config import PipelineConfig
    from eagergraph.flows.pipeline import training_pipeline

    return training_pipeline(PipelineConfig(artifacts=artifacts, **{**SETTINGS, **overrides}))


def _states(api: str, flow_run_id: str) -> dict[str, str]:
    """Each stage's state in one flow run; every stage must have run exactly once."""
    runs = httpx.post(f"{api}/task_runs/filter", json={"task_runs": {"flow_run_id": {"any_": [flow_run_id]}}}).json()
    names = sorted(t["name"].rsplit("-", 1)[0] for t in runs)
    assert len(names) == len(set(names)), names
    return {t["name"].rsplit("-", 1)[0]: t["state"]["name"] for t in runs}


def _files(run_dir: str) -> dict[str, str]:
    return {f["path"]: f["blake3"] for f in json.loads(RunPaths.of(run_dir).manifest.read_text())["files"]}


@pytest.fixture(scope="module")
def two_runs(prefect_api: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, dict]:
    artifacts = tmp_path_factory.mktemp("cache-artifacts")
    return artifacts, _run(artifacts), _run(artifacts)


def test_second_identical_run_is_cached_faster_and_complete(two_runs, prefect_api: str) -> None:
    artifacts, first, second = two_runs
    assert {s: _states(prefect_api, first["flow_run_id"])[s] for s in CACHED} == dict.fromkeys(CACHED, "Completed")
    states = _states(prefect_api, second["flow_run_id"])
    assert {s: states[s] for s in CACHED} == dict.fromkeys(CACHED, "Cached")
    assert states["train-eager"] == "Completed"  # training is never cached: it is what we measure
    # The cached run's directory holds its own copy of every stage file, identical to the first run's.
    first_files, second_files = _files(first["run_dir"]), _files(second["run_dir"])
    data_files = [p for p in first_files if p.startswith(("raw.", "normalizer", "normalized/", "features/"))]
    assert sorted(data_files) == ["features/test.parquet", "features/train.parquet", "features/validation.parquet",
                                  "normalized/test.parquet", "normalized/test_raw.parquet", "normalized/train.parquet",
                                  "normalized/validation.parquet", "normalizer.json", "raw.parquet"]
    assert {p: second_files[p] for p in data_files} == {p: first_files[p] for p in data_files}
    # Still complete once the first run is deleted: nothing points into another run's directory.
    shutil.rmtree(first["run_dir"])
    for path in data_files:
        assert (Path(second["run_dir"]) / path).is_file()
    assert second["metrics"]["graph"]["accuracy"] == first["metrics"]["graph"]["accuracy"]


def _as_a_new_process(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Forget the digests this process remembered (a later run is a process of its own) and list the files
    eagergraph.io reads from now on."""
    forget_digests(monkeypatch)
    return count_opens(monkeypatch)


def _record_order(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The data stages and TensorFlow's background start, in the order the flow asks for them."""
    import eagergraph.orchestration.pipeline as pipeline

    order: list[str] = []
    run_cached, start = pipeline.run_cached, pipeline.start_tensorflow_in_background

    def stage(seconds: dict, task, *args, **kwargs) -> dict:
        order.append(task.name)
        return run_cached(seconds, task, *args, **kwargs)

    def tensorflow() -> None:
        if "tensorflow" not in order:
            order.append("tensorflow")
        start()

    monkeypatch.setattr(pipeline, "run_cached", stage)
    monkeypatch.setattr(pipeline, "start_tensorflow_in_background", tensorflow)
    return order


def test_a_hit_in_a_later_process_reads_no_cached_file(two_runs, prefect_api: str, monkeypatch) -> None:
    artifacts, first, _ = two_runs
    opened = _as_a_new_process(monkeypatch)
    order = _record_order(monkeypatch)
    hit = _run(artifacts)
    states = _states(prefect_api, hit["flow_run_id"])
    assert {s: states[s] for s in CACHED} == dict.fromkeys(CACHED, "Cached")
    # every data stage a hit: TensorFlow's import began after them, so it slowed none of them
    assert order == [*CACHED, "tensorflow"]
    data_files = {p: d for p, d in _files(hit["run_dir"]).items()
                  if p.startswith(("raw.", "normalizer", "normalized/", "features/"))}
    # raw.parquet, normalizer.json, the three normalized splits and the raw test rows, the three feature files
    assert len(data_files) == 9
    # The store's objects and their links in the run were trusted by their identity in the cache's state file.
    assert not set(opened) & ({Path(p).name for p in data_files} | set(data_files.values())), opened
    assert "metrics.json" in opened  # what the run wrote itself is still hashed for its manifest


def test_changed_parameter_or_refresh_recomputes(two_runs, prefect_api: str, monkeypatch) -> None:
    artifacts, _, _ = two_runs
    order = _record_order(monkeypatch)
    changed = _states(prefect_api, _run(artifacts, test_fraction=0.25)["flow_run_id"])
    assert changed["ingest"] == "Cached"  # its inputs did not change
    assert changed["normalize"] == "Completed" and changed["engineer-features"] == "Completed"
    # ingest was a hit, so normalize was expected to be one: TensorFlow's import waited for it (a hit beside the
    # import is twenty times slower); normalize computed, so the import overlapped engineer-features
    assert order == ["ingest", "normalize", "tensorflow", "engineer-features"]
    order.clear()
    refreshed = _states(prefect_api, _run(artifacts, refresh=True)["flow_run_id"])
    assert {s: refreshed[s] for s in CACHED} == dict.fromkeys(CACHED, "Completed")
    assert order == ["ingest", "tensorflow", "normalize", "engineer-features"]  # the import overlaps normalize


def test_changed_data_file_recomputes_and_a_lost_cache_is_rebuilt(prefect_api: str, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 3))
    data = tmp_path / "data.csv"

    def write(table_x: np.ndarray) -> None:
        pacsv.write_csv(pa.table({"a": table_x[:, 0], "b": table_x[:, 1], "c": table_x[:, 2],
                                  "y": (table_x[:, 0] + table_x[:, 1] ** 2 > 1).astype(int)}), data)

    artifacts = tmp_path / "artifacts"
    write(x)
    settings = dict(data=data, label="y", epochs=1, batch_size=64)
    _run(artifacts, **settings)
    assert _states(prefect_api, _run(artifacts, **settings)["flow_run_id"])["ingest"] == "Cached"
    x[0, 0] += 1.0  # same path, same size class, new content
    write(x)
    states = _states(prefect_api, _run(artifacts, **settings)["flow_run_id"])
    assert {s: states[s] for s in CACHED} == dict.fromkeys(CACHED, "Completed")
    shutil.rmtree(artifacts / ".cache")  # the store is gone, Prefect's cache records are not
    rebuilt = _run(artifacts, **settings)
    assert RunPaths.of(rebuilt["run_dir"]).raw.is_file() and RunPaths.of(rebuilt["run_dir"]).features("test").is_file()
    runs = httpx.post(f"{prefect_api}/task_runs/filter",
                      json={"task_runs": {"flow_run_id": {"any_": [rebuilt["flow_run_id"]]}}}).json()
    ingest_states = sorted(t["state"]["name"] for t in runs if t["name"].startswith("ingest-"))
    assert ingest_states == ["Cached", "Completed"]  # the hit found no files, so ingest ran again


def test_cache_key_uses_content_not_path_or_mtime(tmp_path: Path) -> None:
    one, two = tmp_path / "one.csv", tmp_path / "two.csv"
    one.write_text("a,y\n1,0\n")
    two.write_text("a,y\n1,0\n")
    assert content_digest(one) == content_digest(two)
    two.write_text("a,y\n2,0\n")
    assert content_digest(one) != content_digest(two)


def test_ingest_retries_transient_read_errors_but_not_bad_data(prefect_api: str, tmp_path: Path, monkeypatch) -> None:
    from prefect import flow

    import eagergraph.tasks.ingest as ingest_task
    from eagergraph.errors import DataError
    from eagergraph.tasks.ingest import ingest

    calls: list[str] = []
    real = ingest_task.ingest_to

    def flaky(out: Path, *args, **kwargs) -> dict:
        calls.append("call")
        if len(calls) == 1:
            raise OSError("stale file handle")  # transient: the second attempt succeeds
        return real(out, *args, **kwargs)

    monkeypatch.setattr(ingest_task, "ingest_to", flaky)

    @flow
    def ingest_once(run_dir: str, retries: int) -> dict:
        return ingest.with_options(retries=retries, retry_delay_seconds=0, refresh_cache=True)(
            run_dir, None, "label", None, 100, 3, 7)

    run_dir = tmp_path / "artifacts" / "run"
    run_dir.mkdir(parents=True)
    assert ingest_once(str(run_dir), 1)["rows"] == 100 and calls == ["call", "call"]

    def bad_data(*args, **kwargs) -> dict:
        calls.append("call")
        raise DataError("data.csv: label column 'label' not found")

    calls.clear()
    monkeypatch.setattr(ingest_task, "ingest_to", bad_data)
    with pytest.raises(DataError):
        ingest_once(str(run_dir), 2)
    assert calls == ["call"]  # bad data is not retried


def test_a_damaged_cached_object_is_recomputed_never_used(two_runs, prefect_api: str, monkeypatch) -> None:
    artifacts, first, _ = two_runs
    digest = _files(_run(artifacts)["run_dir"])["raw.parquet"]
    damaged = cache_object(artifacts, digest)
    with open(damaged, "r+b") as handle:  # the same size, other bytes, a new modification time
        handle.seek(100)
        handle.write(b"\0" * 16)
    stamp = damaged.stat().st_mtime_ns + 10**9
    os.utime(damaged, ns=(stamp, stamp))
    _as_a_new_process(monkeypatch)
    rebuilt = _run(artifacts)
    runs = httpx.post(f"{prefect_api}/task_runs/filter",
                      json={"task_runs": {"flow_run_id": {"any_": [rebuilt["flow_run_id"]]}}}).json()
    assert sorted(t["state"]["name"] for t in runs if t["name"].startswith("ingest-")) == ["Cached", "Completed"]
    raw = RunPaths.of(rebuilt["run_dir"]).raw
    assert eio.file_digest(raw) == digest == _files(rebuilt["run_dir"])["raw.parquet"]  # the good bytes, not the damage
    assert cache_object(artifacts, digest).read_bytes() == raw.read_bytes()  # the store holds them again
    _as_a_new_process(monkeypatch)
    assert _states(prefect_api, _run(artifacts)["flow_run_id"])["ingest"] == "Cached"  # and the next run hits

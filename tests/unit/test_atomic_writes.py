"""Writes that cannot leave a partial file: a disk that fills up mid-write (a simulated ENOSPC at the writer) leaves
nothing under the final name, removes the temporary file and raises one DataError line naming the path and the
free space on its file system."""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from eagergraph.data.ingest import ingest_to
from eagergraph.data.io import ParquetSink
from eagergraph.errors import DataError
from eagergraph.io import read_json, write_json
from eagergraph.rundir.paths import RunPaths
from runs import engineer_run, normalize_run

SCHEMA = pa.schema([pa.field("x", pa.float64()), pa.field("label", pa.int8())])


def _batch(n: int) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays([pa.array(np.arange(n, dtype=np.float64)), pa.array(np.zeros(n, np.int8))], schema=SCHEMA)


def _disk_fills_after(monkeypatch: pytest.MonkeyPatch, good_batches: int) -> None:
    """The Parquet writer writes `good_batches` batches for real (bytes reach the disk), then the disk is full."""
    real = pq.ParquetWriter.write_batch
    calls = {"n": 0}

    def write_batch(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] > good_batches:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetWriter, "write_batch", write_batch)


def _assert_one_line_naming(error: DataError, path: Path) -> None:
    message = str(error)
    assert "\n" not in message and str(path) in message and "No space left on device" in message
    free = shutil.disk_usage(path.parent).free / 2**20
    shown = float(message.split("; ")[1].split(" MiB free")[0].replace(",", ""))
    assert abs(shown - free) < max(0.05 * free, 64)  # the free space of the path's own file system


def test_a_sink_that_completes_appears_whole_under_its_name_and_leaves_no_temporary_file(tmp_path):
    out = tmp_path / "deep" / "out.parquet"
    with ParquetSink(out, SCHEMA) as sink:
        sink.write(_batch(10))
        assert not out.exists()  # nobody reads the file before it is complete
    assert pq.read_table(out).num_rows == 10 and sink.rows == 10
    assert [p.name for p in out.parent.iterdir()] == ["out.parquet"]


def test_a_full_disk_mid_sink_leaves_no_file_and_says_where_and_how_much_space(tmp_path, monkeypatch):
    out = tmp_path / "out.parquet"
    out.write_bytes(b"the previous content")  # a file already there stays as it was, never half-replaced
    _disk_fills_after(monkeypatch, good_batches=1)
    with pytest.raises(DataError) as caught, ParquetSink(out, SCHEMA) as sink:
        sink.write(_batch(10))
        sink.write(_batch(10))
    _assert_one_line_naming(caught.value, out)
    assert out.read_bytes() == b"the previous content" and [p.name for p in tmp_path.iterdir()] == ["out.parquet"]


def test_an_error_inside_the_block_removes_the_temporary_file(tmp_path):
    out = tmp_path / "out.parquet"
    with pytest.raises(ZeroDivisionError), ParquetSink(out, SCHEMA) as sink:
        sink.write(_batch(10))
        1 / 0
    assert list(tmp_path.iterdir()) == []


def test_a_full_disk_while_writing_json_leaves_the_old_file_and_no_temporary_one(tmp_path, monkeypatch):
    out = tmp_path / "metrics.json"
    write_json(out, {"old": 1})
    real = Path.write_text

    def half_then_full(self, text, *args, **kwargs):
        real(self, text[: len(text) // 2], *args, **kwargs)  # part of the bytes reached the disk
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_text", half_then_full)
    with pytest.raises(DataError) as caught:
        write_json(out, {"new": list(range(100))})
    monkeypatch.undo()
    _assert_one_line_naming(caught.value, out)
    assert read_json(out) == {"old": 1} and [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_a_stage_that_runs_out_of_disk_leaves_nothing_a_later_stage_would_read(tmp_path, monkeypatch):
    run = tmp_path / "run"
    paths = RunPaths.of(run)
    data = tmp_path / "data.parquet"
    rng = np.random.default_rng(0)
    pq.write_table(pa.table({"a": rng.normal(size=4000), "b": rng.normal(size=4000), "y": np.arange(4000) % 2}), data)
    ingest_to(paths.raw, data, "y", None, 0, 0, 1)
    normalize_run(run, 0.2, 1)
    before = {p for p in run.rglob("*") if p.is_file()}
    _disk_fills_after(monkeypatch, good_batches=1)  # engineer-features: the train file is written whole, the next fails
    with pytest.raises(DataError) as caught:
        engineer_run(run)
    monkeypatch.undo()
    _assert_one_line_naming(caught.value, paths.features("validation"))
    assert not paths.features("validation").exists() and not paths.features("test").exists()
    new = {p for p in run.rglob("*") if p.is_file()} - before
    assert new == {paths.features("train")}  # no temporary file left; what is there is whole
    assert pq.read_table(paths.features("train")).num_rows == pq.read_table(paths.normalized("train")).num_rows

"""A folder of partitions is scanned once per run to decide the column kinds, not once per partition."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

import eagergraph.data.partitions as partitions
from eagergraph.data.partitions import decide_kinds, ingest_partition_to, merge_partitions_to
from eagergraph.rundir.paths import RunPaths
from runs import split_files


def _folder(tmp_path, sizes=(60, 50, 40)):
    folder = tmp_path / "parts"
    folder.mkdir()
    rng = np.random.default_rng(3)
    start = 0
    for index, n in enumerate(sizes):
        pq.write_table(pa.table({"id": np.arange(start, start + n), "x": rng.normal(size=n),
                                 "plan": rng.choice(["a", "b", "c"], n), "y": rng.choice(["no", "yes"], n)}),
                       folder / f"part-{index}.parquet")
        start += n
    return folder, len(sizes)


def test_the_kinds_are_decided_once_and_give_what_each_partition_decided_alone(tmp_path, monkeypatch):
    folder, n = _folder(tmp_path)
    alone = RunPaths.of(tmp_path / "alone")
    before = [ingest_partition_to(alone.raw_part(i), folder, str(folder / f"part-{i}.parquet"), i, "y", None)
              for i in range(n)]
    scans = []
    real = partitions.select_from
    monkeypatch.setattr(partitions, "select_from", lambda *a, **k: scans.append(a[1]) or real(*a, **k))
    kinds = decide_kinds(folder, "y", None)
    once = RunPaths.of(tmp_path / "once")
    parts = [ingest_partition_to(once.raw_part(i), folder, str(folder / f"part-{i}.parquet"), i, "y", None,
                                 kinds=kinds) for i in range(n)]
    assert scans == [folder]  # one scan of the folder for all three partitions
    assert kinds["selection"]["left_out"]["id"] == "looks like an id" and kinds["selection"]["categorical"] == ["plan"]
    assert kinds["task"] == "binary"
    keys = ("features", "categorical", "rows", "classes", "left_out", "passthrough")
    assert [{k: p[k] for k in keys} for p in parts] == [{k: p[k] for k in keys} for p in before]
    for i in range(n):
        assert pq.read_table(once.raw_part(i)).equals(pq.read_table(alone.raw_part(i)))
    merged = merge_partitions_to(once.raw, [once.raw_part(i) for i in range(n)], split_files(once.root), parts, folder, "y",
                                 False)
    assert merged["rows"] == 150 and merged["train_rows"] + merged["validation_rows"] + merged["test_rows"] == 150 and scans == [folder]

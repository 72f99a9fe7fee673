"""Small helpers every data stage shares: Parquet I/O, the label's name in the run directory (JSON: eagergraph.io)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from eagergraph.io import temporary_beside, write_failed

LABEL = "label"  # the label's name inside the run directory, whatever the user's column is called
# Rows per Parquet row group and per streamed batch: large enough for fast columnar work, small enough that a
# batch of float64 columns stays under glibc's 32 MiB mmap threshold, so numpy reuses its buffers instead of
# page-faulting fresh memory for every batch (which cost as much as the arithmetic here).
ROW_GROUP_ROWS = 1 << 18
# Rows per block a model scores (evaluate, the gate, the sweep, predict; `in_blocks`): on 6.4M test rows, blocks of
# 64k rows scored as fast as blocks of 256k (within a shared machine's noise) and peaked about 140 MiB lower.
BLOCK_ROWS = 1 << 16


class ParquetSink:
    """A Parquet file written in row groups of at most ROW_GROUP_ROWS rows, counting what it wrote.

    Float feature columns neither compress nor dictionary-encode, so both (and their statistics) are skipped
    for them: three times faster to write, the same size. The label keeps its dictionary and statistics.
    (Writing from a background thread brought nothing measurable on two shared cores, so it stays simple.)

    All or nothing: the rows go to a temporary name in the same folder, renamed to `path` only when the `with`
    block completes; on any error the temporary file is removed, so no later stage or run reads a partial file, and
    an OSError (a full disk) becomes one DataError line naming the path and the free space on its file system.
    """

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self._staging = path, temporary_beside(path)
        labels = [LABEL] if LABEL in schema.names else []
        text = [f.name for f in schema if f.name != LABEL and is_plain_text(f.type)]  # read back through dictionary
        try:  # pages (`iter_batches(..., text_as_dictionary=True)`); a column of many values falls back to plain
            self._writer = pq.ParquetWriter(self._staging, schema, compression="none", use_dictionary=labels + text,
                                            write_statistics=labels)
        except OSError as error:
            self._staging.unlink(missing_ok=True)
            raise write_failed(path, error) from error
        self.rows = 0

    def write(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows:
            batch = as_plain(batch)
            try:
                self._writer.write_batch(batch, row_group_size=ROW_GROUP_ROWS)
            except OSError as error:
                raise write_failed(self.path, error) from error  # __exit__ removes the temporary file
            self.rows += batch.num_rows

    def __enter__(self) -> "ParquetSink":
        return self

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        try:
            self._writer.close()
            if kind is None:
                os.replace(self._staging, self.path)
        except OSError as error:
            raise write_failed(self.path, error) from error
        finally:
            self._staging.unlink(missing_ok=True)  # gone already once renamed; removed after any failure


def write_batches(path: Path, schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> int:
    """Stream record batches into one Parquet file in row groups; return the number of rows written."""
    with ParquetSink(path, schema) as sink:
        for batch in batches:
            sink.write(batch)
    return sink.rows


def is_plain_text(kind: pa.DataType) -> bool:
    return pa.types.is_string(kind) or pa.types.is_large_string(kind)


def as_plain(batch: pa.RecordBatch) -> pa.RecordBatch:
    """A batch with its dictionary-encoded columns decoded (as the files' schemas declare them)."""
    if not any(pa.types.is_dictionary(kind) for kind in batch.schema.types):
        return batch
    columns = [c.cast(c.type.value_type) if pa.types.is_dictionary(c.type) else c for c in batch.columns]
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


def iter_batches(path: Path, columns: list[str] | None = None,
                 text_as_dictionary: bool = False) -> Iterator[pa.RecordBatch]:
    """Read a Parquet file of the run directory row group by row group, never the whole table at once.

    The run directory's files are written in row groups of at most ROW_GROUP_ROWS rows, and whole row groups
    read an order of magnitude faster than `ParquetFile.iter_batches` (pyarrow 26, measured here). With
    `text_as_dictionary`, text columns come as Arrow dictionary arrays straight from their dictionary pages (the
    data stages' categorical work then runs on a column's few distinct values; three times faster to read).
    """
    file = pq.ParquetFile(path)
    text = [f.name for f in file.schema_arrow if is_plain_text(f.type)] if text_as_dictionary else []
    if text:
        file = pq.ParquetFile(path, read_dictionary=text)
    for group in range(file.num_row_groups):
        yield from file.read_row_group(group, columns=columns).to_batches()


def in_blocks(batches: Iterable[pa.RecordBatch], rows: int | None = None) -> Iterator[pa.Table]:
    """Consecutive record batches cut into tables of `rows` rows each (default BLOCK_ROWS; the last may hold fewer),
    one chunk per column. Work per block (a model call, a merge of metric counts, a written row group) is cheaper on
    fewer, larger blocks than files come in (the raw test split's row groups are the test rows of one input batch
    each, about 52,000 rows; a CSV file's blocks a MiB each), and exact blocks keep what one holds in memory to
    `rows` rows whatever the row groups are."""
    rows = rows or BLOCK_ROWS
    pending: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        pending.append(batch)
        count += batch.num_rows
        if count < rows:
            continue
        table, start = pa.Table.from_batches(pending).combine_chunks(), 0
        while table.num_rows - start >= rows:
            yield table.slice(start, rows)
            start += rows
        rest = table.slice(start)
        pending, count = rest.to_batches(), rest.num_rows
    if pending:
        yield pa.Table.from_batches(pending).combine_chunks()


def feature_matrix(batch: pa.RecordBatch | pa.Table, columns: list[str]) -> np.ndarray:
    """The named columns as one float64 matrix, rows × columns."""
    if not columns:
        return np.empty((batch.num_rows, 0))
    return np.column_stack([batch.column(name).to_numpy(zero_copy_only=False).astype(np.float64) for name in columns])


def float64_column(batch: pa.RecordBatch, name: str) -> np.ndarray:
    """A numeric column of a batch as float64 (missing cells NaN)."""
    return batch.column(name).to_numpy(zero_copy_only=False).astype(np.float64, copy=False)

"""Where a training run's batches come from: the split held in memory, or streamed from Parquet.

Either way an epoch is a sequence of `Block`s: rows held as tensors plus the order in which batches take them
(`batches`, `[block_batches, batch_size]`, with `counts` real rows each: all of them but in the epoch's partial
last batch, which is padded). Every mode and variant reads the same blocks, so all of them see the same batches
in the same order; and every block of a run has the same shapes, so a compiled loop compiles once.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import tensorflow as tf

from eagergraph.data.io import LABEL, in_blocks, iter_batches

NO_ROWS = np.zeros(0, np.int32)


@dataclass(frozen=True)
class Block:
    """A stretch of one epoch: its rows, the full batches that take them in order, maybe the partial last batch."""

    x: tf.Tensor  # [block_rows, n_inputs], float32
    y: tf.Tensor  # [block_rows, 1], float32
    batches: np.ndarray  # int32 [block_batches, batch_size]: row indices; only the first n_batches are batches
    counts: np.ndarray  # int32 [block_batches]: real rows of each batch (batch_size, less in a partial batch)
    n_batches: int

    def rows(self, i: int) -> np.ndarray:
        """The real rows of batch i (a partial batch without its padding)."""
        return self.batches[i, :self.counts[i]]


def epoch_order(n_rows: int, seed: int, epoch: int) -> np.ndarray:
    """The row order of one in-memory epoch: a seeded permutation that every mode and variant shares."""
    return np.random.default_rng([seed, 3, epoch]).permutation(n_rows).astype(np.int32)


def _xy(table: pa.Table, columns: list[str]) -> tuple[np.ndarray, np.ndarray]:
    x = np.column_stack([table.column(n).to_numpy() for n in columns]).astype(np.float32, copy=False)
    return x, table.column(LABEL).to_numpy().astype(np.float32).reshape(-1, 1)


def load_xy(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Features (float32, rows × columns) and label (float32, rows × 1) of an engineered split."""
    table = pq.read_table(path)
    return _xy(table, [name for name in table.column_names if name != LABEL])


@dataclass(frozen=True)
class Validation:
    """The validation split's engineered rows, held in memory: early stopping's loss is computed on them."""

    x: np.ndarray  # float32 [rows, n_inputs]
    y: np.ndarray  # float32 [rows, 1]

    @property
    def n_rows(self) -> int:
        return int(self.x.shape[0])

    def blocks(self, rows: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """The rows in order, `rows` at a time (the last block may hold fewer)."""
        for start in range(0, self.n_rows, rows):
            yield self.x[start:start + rows], self.y[start:start + rows]


@dataclass(frozen=True)
class StreamedValidation:
    """The validation split's engineered rows read from their file at every use, in the same blocks as `Validation`
    (so the loss is the same figure): a split beyond `in_memory_rows` held whole would grow with the table (3M rows
    of 20 inputs at 30M rows: 240 MB, and twice that while it was read)."""

    path: Path
    n_rows: int

    def blocks(self, rows: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for table in in_blocks(iter_batches(self.path), rows):
            yield _xy(table, [name for name in table.column_names if name != LABEL])


def load_validation(path: Path, in_memory_rows: int | None = None) -> Validation | StreamedValidation | None:
    """The validation feature file's rows (in memory up to `in_memory_rows` rows, streamed beyond), or None when the
    run has no validation split (or it has no rows)."""
    if not Path(path).is_file():
        return None
    rows = pq.ParquetFile(path).metadata.num_rows
    if rows and in_memory_rows is not None and rows > in_memory_rows:
        return StreamedValidation(Path(path), rows)
    x, y = load_xy(path)
    return Validation(x, y) if len(x) else None


class BatchSource:
    """The epochs of one training run, as blocks; `batches(epoch)` lists them batch by batch (for checks)."""

    n_rows: int
    n_inputs: int
    batch_size: int

    def blocks(self, epoch: int) -> Iterator[Block]:
        raise NotImplementedError

    def template(self) -> Block:
        """A block of the run's shapes with no batch to run: compiling against it changes no weight."""
        raise NotImplementedError

    @property
    def steps_per_epoch(self) -> int:
        return -(-self.n_rows // self.batch_size)

    def batches(self, epoch: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for block in self.blocks(epoch):
            x, y = block.x.numpy(), block.y.numpy()
            for i in range(block.n_batches):
                yield x[block.rows(i)], y[block.rows(i)]


def _in_batches(order: np.ndarray, block_batches: int, batch_size: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Rows in this order as `[block_batches, batch_size]` batches (the last one padded) and their real counts."""
    n_batches = -(-len(order) // batch_size)
    batches = np.zeros((block_batches, batch_size), np.int32)
    batches.reshape(-1)[:len(order)] = order
    counts = np.zeros(block_batches, np.int32)
    counts[:n_batches] = batch_size
    if len(order) % batch_size:
        counts[n_batches - 1] = len(order) % batch_size
    return batches, counts, n_batches


class InMemorySource(BatchSource):
    """Small data: the whole split as tensors, one block per epoch, rows in a seeded permutation per epoch."""

    def __init__(self, x: np.ndarray, y: np.ndarray, batch_size: int, seed: int) -> None:
        self.x, self.y, self.batch_size, self.seed = tf.constant(x), tf.constant(y), batch_size, seed
        self.n_rows, self.n_inputs = int(x.shape[0]), int(x.shape[1])

    def blocks(self, epoch: int) -> Iterator[Block]:
        order = epoch_order(self.n_rows, self.seed, epoch)
        yield Block(self.x, self.y, *_in_batches(order, self.steps_per_epoch, self.batch_size))

    def template(self) -> Block:
        return Block(self.x, self.y, *_in_batches(NO_ROWS, self.steps_per_epoch, self.batch_size))


class ParquetSource(BatchSource):
    """Large data: one block per row group, streamed from a Parquet file.

    Each epoch visits the row groups in a seeded order and shuffles the rows within each row group (the shuffle
    window) by a seeded permutation, so the batch order is a pure function of (seed, epoch): every mode reads
    identical batches without the table ever being held whole. A block holds the rows a batch did not take from
    the previous row group, then the row group as read; the shuffle is its batch order (`batches` index the rows),
    so no row is copied to shuffle it. Blocks have one capacity (the largest row group plus a batch) and the next
    one is read while one trains.
    """

    def __init__(self, path: Path, batch_size: int, seed: int) -> None:
        self.path, self.batch_size, self.seed = Path(path), batch_size, seed
        meta = pq.ParquetFile(self.path).metadata
        self.columns = [name for name in meta.schema.to_arrow_schema().names if name != LABEL]
        self.n_rows, self.n_inputs, self.row_groups = int(meta.num_rows), len(self.columns), meta.num_row_groups
        largest = max((meta.row_group(g).num_rows for g in range(self.row_groups)), default=0)
        self.block_batches = -(-(largest + batch_size - 1) // batch_size)  # a row group and the rows left before it
        self.capacity = self.block_batches * batch_size

    def _block(self, carry: tuple[np.ndarray, np.ndarray], table: pa.Table, window: np.ndarray,
               last: bool) -> tuple[Block, tuple[np.ndarray, np.ndarray]]:
        """The block of one row group, and the rows left over for the next one."""
        c, rows = len(carry[0]), len(carry[0]) + table.num_rows
        x, y = np.empty((self.capacity, self.n_inputs), np.float32), np.zeros((self.capacity, 1), np.float32)
        x[:c], y[:c] = carry
        x[rows:] = 0.0
        for j, name in enumerate(self.columns):
            x[c:rows, j] = table.column(name).to_numpy()
        y[c:rows, 0] = table.column(LABEL).to_numpy()
        order = np.concatenate([np.arange(c, dtype=np.int32), (c + window).astype(np.int32)])
        cut = len(order) if last else len(order) - len(order) % self.batch_size  # the epoch's end takes them all
        left = order[cut:]
        block = Block(tf.constant(x), tf.constant(y), *_in_batches(order[:cut], self.block_batches, self.batch_size))
        return block, (x[left], y[left])

    def _blocks(self, epoch: int) -> Iterator[Block]:
        file = pq.ParquetFile(self.path)
        carry = np.empty((0, self.n_inputs), np.float32), np.empty((0, 1), np.float32)
        groups = np.random.default_rng([self.seed, 4, epoch]).permutation(self.row_groups)
        for i, group in enumerate(groups):
            table = file.read_row_group(int(group))
            window = np.random.default_rng([self.seed, 5, epoch, int(group)]).permutation(table.num_rows)
            block, carry = self._block(carry, table, window, last=i == len(groups) - 1)
            yield block

    def blocks(self, epoch: int) -> Iterator[Block]:
        return ReadAhead(self._blocks(epoch))

    def template(self) -> Block:
        zeros = tf.zeros((self.capacity, self.n_inputs)), tf.zeros((self.capacity, 1))
        return Block(*zeros, *_in_batches(NO_ROWS, self.block_batches, self.batch_size))


class ReadAhead(Iterator[Block]):
    """Blocks read one ahead in a thread, starting at once: the first block is read while the caller compiles,
    each next one while a block trains (TensorFlow releases the GIL while it runs). `close()` stops reading."""

    def __init__(self, blocks: Iterator[Block]) -> None:
        self._blocks, self._reader = blocks, ThreadPoolExecutor(1)
        self._ahead = self._reader.submit(next, blocks, None)

    def __next__(self) -> Block:
        block = self._ahead.result()
        if block is None:
            self.close()
            raise StopIteration
        self._ahead = self._reader.submit(next, self._blocks, None)
        return block

    def close(self) -> None:
        self._reader.shutdown(wait=True, cancel_futures=True)


def open_source(path: Path, batch_size: int, seed: int, in_memory_rows: int) -> BatchSource:
    """Tensors in memory up to `in_memory_rows` rows (nothing to read per epoch); a stream from Parquet above."""
    if pq.ParquetFile(path).metadata.num_rows <= in_memory_rows:
        x, y = load_xy(path)
        return InMemorySource(x, y, batch_size, seed)
    return ParquetSource(Path(path), batch_size, seed)

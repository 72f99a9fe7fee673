"""A row's split (train, validation or test) as a function of the row: a stable 64-bit hash of its key and the seed,
mapped to u in [0, 1) and cut at two thresholds, so a row keeps its split exactly as the table grows.

The key is the row id column(s) when the table has them (named with --id-column, or detected by ingest), otherwise
the row's content (every column of raw.parquet, the label as its value, so identical rows fall in one split).

The hash is written here, not borrowed from an engine: Polars' and DuckDB's `hash()` are documented as not stable
across versions. Scheme `SCHEME`, pinned by a golden test:
- a number (float, integer, boolean): splitmix64 of its float64 bit pattern (-0.0 as 0.0, one NaN); an integer
  beyond 2**53 (not exact as a float) of its int64 bits, tagged; a date or time of its int64 storage;
- a text or binary value: the first 8 bytes (little-endian) of its BLAKE2b digest (of its UTF-8 bytes), computed
  once per distinct value through Arrow's dictionary encoding;
- a missing cell: a fixed constant;
- the row: splitmix64 folded over the key columns in name order, starting from the seed.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from eagergraph.data.io import LABEL, iter_batches
from eagergraph.errors import DataError

SCHEME = "splitmix64-blake2b-v1"
TRAIN, VALIDATION, TEST = 0, 1, 2
SPLITS = ("train", "validation", "test")  # code order

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_NULL = np.uint64(0x6A09E667F3BCC908)  # a missing cell, whatever the column's type
_BIG_INT = np.uint64(0xBB67AE8584CAA73B)  # tags an integer that float64 cannot hold exactly
_NAN = np.uint64(0x7FF8000000000000)
_EXACT = 2**53


@dataclass(frozen=True)
class SplitRule:
    """The split as normalizer.json records it: which columns key a row (`by`: "id" columns or the row's "content"),
    the seed, the two fractions, the hash scheme."""

    key: list[str]
    seed: int
    test_fraction: float
    validation_fraction: float
    by: str = "content"
    hash: str = SCHEME
    types: dict[str, str] | None = None  # each key column's value type (runs before it was recorded: None)

    def recomputable_on(self, schema: pa.Schema) -> str | None:
        """Why this rule cannot be recomputed on rows of `schema` (the same hash of the same key needs the same
        scheme, the key's columns, and their values of the same type: a column read as integers before and as text
        now hashes differently), or None when it can."""
        if self.hash != SCHEME:
            return f"production's split used the hash scheme {self.hash}, not {SCHEME}"
        absent = [name for name in self.key if name not in schema.names]
        if absent:
            return f"production's split key ({', '.join(absent)}) is not in this run's data"
        now = key_types(schema, self.key)
        changed = [name for name in self.key if self.types and name in self.types and now[name] != self.types[name]]
        if changed:
            return ("production's split key changed type (" + ", ".join(f"{n}: {self.types[n]} then, {now[n]} now"
                                                                     for n in changed) + ")")
        return None

    def as_json(self) -> dict:
        return asdict(self)


def key_types(schema: pa.Schema, key: list[str]) -> dict[str, str]:
    """The value type of each key column but the label (hashed as the user's value whatever its codes), a
    dictionary-encoded column as its values' type: what a recomputed split must find again."""
    types = {}
    for name in key:
        if name != LABEL:
            kind = schema.field(name).type
            types[name] = str(kind.value_type if pa.types.is_dictionary(kind) else kind)
    return types


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer over uint64 (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        x = x + _GOLDEN  # a new array; the rest works in place on it (half the passes over memory)
        x ^= x >> np.uint64(30)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(27)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    return x


def _float_bits(values: np.ndarray) -> np.ndarray:
    values = values.astype(np.float64, copy=False) + 0.0  # a new array, and -0.0 + 0.0 is 0.0
    bits = values.view(np.uint64)
    nan = np.isnan(values)
    if nan.any():
        bits[nan] = _NAN  # one NaN, whatever its payload
    return bits


def _integer_bits(values: np.ndarray) -> np.ndarray:
    """An integer as the float it equals (so 3 and 3.0 agree), or its own bits when float64 cannot hold it."""
    if values.dtype == np.uint64:
        big = values > _EXACT
        own = values
    else:
        values = values.astype(np.int64, copy=False)
        big = (values > _EXACT) | (values < -_EXACT)
        own = values.view(np.uint64)
    return np.where(big, own ^ _BIG_INT, _float_bits(values.astype(np.float64)))


def _text_hashes(values: list) -> np.ndarray:
    """BLAKE2b's first 8 bytes of each distinct text (UTF-8) or binary value."""
    return np.array([int.from_bytes(hashlib.blake2b(v.encode() if isinstance(v, str) else v, digest_size=8).digest(),
                                    "little") if v is not None else int(_NULL) for v in values], dtype=np.uint64)


def _is_bytes(kind: pa.DataType) -> bool:
    return pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_binary(kind) \
        or pa.types.is_large_binary(kind)


def _take(distinct: np.ndarray, encoded: pa.DictionaryArray) -> np.ndarray:
    """Per cell, the hash of its dictionary value (a missing cell: the constant)."""
    if len(distinct) == 0:
        return np.full(len(encoded), _NULL)
    cells = distinct[encoded.indices.fill_null(0).to_numpy(zero_copy_only=False)]
    return np.where(encoded.is_null().to_numpy(zero_copy_only=False), _NULL, cells)


def column_hash(values: pa.Array | pa.ChunkedArray, name: str = "") -> np.ndarray:
    """A stable uint64 per cell of one column (see the module's scheme)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks else pa.array([], values.type)
    kind = values.type
    if pa.types.is_dictionary(kind):
        return _take(column_hash(values.dictionary, name), values)
    if pa.types.is_null(kind):
        return np.full(len(values), _NULL)
    if _is_bytes(kind):
        encoded = pc.dictionary_encode(values)  # each distinct value hashed once
        return _take(_text_hashes(encoded.dictionary.to_pylist()), encoded)
    missing = values.is_null().to_numpy(zero_copy_only=False)
    if pa.types.is_floating(kind):
        bits = _float_bits(values.cast(pa.float64()).fill_null(0).to_numpy(zero_copy_only=False))
    elif pa.types.is_boolean(kind):
        bits = _float_bits(values.cast(pa.float64()).fill_null(0).to_numpy(zero_copy_only=False))
    elif pa.types.is_integer(kind):
        bits = _integer_bits(values.fill_null(0).to_numpy(zero_copy_only=False))
    else:
        try:
            if pa.types.is_temporal(kind):  # dates and times: their integer storage
                storage = pa.int32() if kind.bit_width == 32 else pa.int64()
                bits = values.view(storage).cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False).view(np.uint64)
            else:
                return column_hash(values.cast(pa.string()), name)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError):
            raise DataError(f"column {name!r} ({kind}) cannot key a row's split; name another with --id-column") from None
    return np.where(missing, _NULL, _mix(bits))


def row_hash(columns: dict[str, pa.Array | pa.ChunkedArray], seed: int, rows: int) -> np.ndarray:
    """One uint64 per row: the seed, then each key column's hash in name order, folded with splitmix64."""
    h = _mix(np.full(rows, np.uint64(seed), dtype=np.uint64))
    for name in sorted(columns):
        h = _mix(h ^ column_hash(columns[name], name))
    return h


def unit_interval(h: np.ndarray) -> np.ndarray:
    """A row hash as u in [0, 1): its top 53 bits."""
    return (h >> np.uint64(11)).astype(np.float64) * 2.0**-53


def codes_of(u: np.ndarray, test_fraction: float, validation_fraction: float) -> np.ndarray:
    """0 train, 1 validation, 2 test: test when u < test_fraction, validation below the two fractions' sum."""
    return np.where(u < test_fraction, TEST, np.where(u < test_fraction + validation_fraction, VALIDATION, TRAIN)
                    ).astype(np.int8)


def split_codes(table_or_batch: pa.Table | pa.RecordBatch, rule: SplitRule, classes: list | None = None) -> np.ndarray:
    """Each row's split code (0 train, 1 validation, 2 test) under `rule`. `classes`: the label's values in code
    order when the label column holds codes (raw.parquet), so the label is hashed as the user's value and a row
    keeps its split when a new class shifts the codes."""
    columns = {}
    for name in rule.key:
        values = table_or_batch.column(name)
        if name == LABEL and classes:
            values = pa.array(classes).take(values)
        columns[name] = values
    u = unit_interval(row_hash(columns, rule.seed, table_or_batch.num_rows))
    return codes_of(u, rule.test_fraction, rule.validation_fraction)


def file_split_codes(path: Path, rule: SplitRule, classes: list | None) -> np.ndarray:
    """Each row's split code (`split_codes`) of a Parquet file holding the rule's key columns, block by block,
    reading the key columns only (text through its dictionaries: hashed once per distinct value)."""
    parts = [split_codes(batch, rule, classes) for batch in iter_batches(path, rule.key, text_as_dictionary=True)]
    return np.concatenate(parts) if parts else np.zeros(0, np.int8)

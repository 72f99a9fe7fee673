"""Stage 1, ingest: the synthetic default or the user's CSV/Parquet, validated and snapshotted as raw.parquet."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from eagergraph.data.columns import FEATURES_KEY, Selection, choose_columns, raw_schema
from eagergraph.data.io import LABEL, ROW_GROUP_ROWS, write_batches
from eagergraph.data.labels import encode_label, label_missing, order_classes
from eagergraph.data.preflight import SUFFIX_FORMATS
from eagergraph.errors import DataError, first_line

CLASSES_KEY = b"eagergraph.classes"  # raw.parquet metadata: the user's label values that became 0 and 1
SOURCE_KEY = b"eagergraph.source"  # raw.parquet metadata: the user's file, so later stages' errors can name it


# ---------------------------------------------------------------- synthetic data


def synthetic_batches(rows: int, n_features: int, seed: int, chunk_rows: int = ROW_GROUP_ROWS) -> Iterator[pa.RecordBatch]:
    """A seeded table the model can learn: a label from a quadratic rule plus noise, on features of mixed scale.

    The rule is linear in (z, z²) of the standardized features, so the squared features of stage 3 make it
    learnable; the offsets and scales make normalization matter. Chunks are seeded by index, so any chunk
    size gives the same rows.
    """
    coef = np.random.default_rng([seed, 0])
    quadratic = coef.uniform(-1.0, 1.0, n_features)
    linear = coef.uniform(-0.5, 0.5, n_features)
    scale = coef.uniform(0.5, 20.0, n_features)
    offset = coef.uniform(-50.0, 50.0, n_features)
    names = [f"x{i}" for i in range(n_features)]
    threshold = quadratic.sum()  # E[z²] = 1, so the classes come out roughly balanced
    for index, start in enumerate(range(0, rows, chunk_rows)):
        n = min(chunk_rows, rows - start)
        rng = np.random.default_rng([seed, 1, index])
        # features × rows: every column contiguous, handed to Arrow without a copy; drawn in float32 (twice as fast)
        z = rng.standard_normal((n_features, n), dtype=np.float32).astype(np.float64)
        score = np.einsum("f,fn,fn->n", quadratic, z, z) + linear @ z + rng.normal(0.0, 0.3, n)
        label = (score > threshold).astype(np.int8)
        z *= scale[:, None]  # in place: z becomes x, no second array of the chunk's size
        z += offset[:, None]
        yield pa.RecordBatch.from_arrays([pa.array(z[j]) for j in range(n_features)] + [pa.array(label)], names=[*names, LABEL])


# ---------------------------------------------------------------- user data


def open_dataset(path: Path) -> ds.Dataset:
    """A pyarrow dataset over a CSV file, a Parquet file or a folder of Parquet files, with at least one row."""
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    if path.is_dir():
        fmt = "parquet"
    elif path.suffix.lower() in SUFFIX_FORMATS:
        fmt = SUFFIX_FORMATS[path.suffix.lower()]
    else:
        raise DataError(f"{path}: unsupported file type {path.suffix or '(none)'!r}; use .csv, .parquet or a folder of Parquet files")
    if path.is_file() and path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty")
    dataset = None
    try:
        dataset = ds.dataset(path, format=fmt)
        if path.is_dir() and not dataset.files:
            raise DataError(f"{path}: the folder holds no Parquet files")
        empty = dataset.head(1).num_rows == 0  # reads the first block(s) only
    except (pa.ArrowException, OSError) as exc:
        duplicated = _duplicate_names(path) if fmt == "parquet" and path.is_file() else []
        if duplicated:
            raise DataError(f"{path}: duplicate column names: {', '.join(duplicated)}") from None
        schema = dataset.schema if dataset is not None else None
        raise DataError(f"{path}: cannot read as {fmt}: {arrow_reason(exc, schema)}") from None
    if empty:
        raise DataError(f"{path}: no data rows" + (" (a header only)" if fmt == "csv" else ""))
    return dataset


def arrow_reason(exc: BaseException, schema: pa.Schema | None = None) -> str:
    """Arrow's error message without its wrapping ("Error creating dataset. Could not open ... source '...'"),
    with CSV column numbers turned into names, printable and short enough for one line."""
    reason = first_line(exc)
    reason = re.sub(r"^.*?input source '[^']*': (Invalid: )?", "", reason)
    duplicate = re.search(r"multiple columns named (.+)$", reason)
    if duplicate:
        return f"duplicate column names: {duplicate.group(1)}"
    if schema is not None:
        reason = re.sub(r"CSV column #(\d+)", lambda m: f"column {_column_name(schema, int(m.group(1)))!r}", reason)
    reason = re.sub(r"(got \d+): .*$", r"\1", reason)  # drop the raw row echoed after a parse error
    reason = "".join(ch if ch.isprintable() else "?" for ch in reason)
    return reason if len(reason) <= 200 else reason[:197] + "..."


def _column_name(schema: pa.Schema, index: int) -> str:
    return schema.names[index] if 0 <= index < len(schema.names) else f"#{index}"


def _duplicate_names(path: Path) -> list[str]:
    """Duplicate column names of one Parquet file (Arrow's dataset refuses them without naming them)."""
    try:
        names = pq.read_schema(path).names
    except (pa.ArrowException, OSError):
        return []
    return sorted({name for name in names if names.count(name) > 1})


@dataclass
class _Checks:
    """What one pass over the user's rows learns: label values and invalid-value counts per column."""

    classes: set = field(default_factory=set)
    invalid: dict[str, int] = field(default_factory=dict)
    dropped: int = 0
    rows: int = 0


def clean_batches(dataset: ds.Dataset, label: str, features: list[str], drop_invalid: bool, checks: _Checks,
                  where: Path, passthrough: list[str] | None = None) -> Iterator[pa.RecordBatch]:
    """Stream the chosen columns as float64 features plus the raw label (then the passthrough columns as they
    are), counting (or dropping) rows with invalid features or a missing label."""
    passthrough = passthrough or []
    try:
        for batch in dataset.to_batches(columns=[*features, label, *passthrough]):
            yield _clean(batch, label, features, drop_invalid, checks, where, passthrough)
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"{where}: cannot read: {arrow_reason(exc, dataset.schema)}") from None


def _clean(batch: pa.RecordBatch, label: str, features: list[str], drop_invalid: bool, checks: _Checks, where: Path,
           passthrough: list[str] = ()) -> pa.RecordBatch:
    columns = [batch.column(name).cast(pa.float64()) for name in features]
    bad = np.zeros(batch.num_rows, dtype=bool)
    for name, column in zip(features, columns):
        values = column.to_numpy(zero_copy_only=False)
        invalid = ~np.isfinite(values)
        if invalid.any():
            checks.invalid[name] = checks.invalid.get(name, 0) + int(invalid.sum())
            bad |= invalid
    target = batch.column(label)
    target_bad = label_missing(target)
    if target_bad.any():
        checks.invalid[label] = checks.invalid.get(label, 0) + int(target_bad.sum())
        bad |= target_bad
    out = pa.RecordBatch.from_arrays([*columns, target, *(batch.column(n) for n in passthrough)],
                                     names=[*features, LABEL, *passthrough])
    if bad.any() and drop_invalid:
        out = out.filter(pa.array(~bad))
        checks.dropped += int(bad.sum())
    checks.classes.update(pc.unique(target.filter(pa.array(~target_bad))).to_pylist())  # a missing label is no class
    if len(checks.classes) > 2:
        shown = ", ".join(repr(v) for v in sorted(checks.classes, key=str)[:5])
        raise DataError(f"{where}: label column {label!r} has more than two distinct values ({shown}, ...); a binary label is needed")
    checks.rows += out.num_rows
    return out


def validate(checks: _Checks, label: str, drop_invalid: bool, where: Path) -> list:
    """Refuse what a pass over the rows found wrong; return the two label classes in sorted order."""
    if checks.invalid and not drop_invalid:
        counts = ", ".join(f"{name}: {count}" for name, count in checks.invalid.items())
        raise DataError(f"{where}: missing, NaN or infinite values ({counts}); fix them or pass --drop-invalid")
    if checks.rows == 0:
        raise DataError(f"{where}: no data rows" + (" left after dropping invalid rows" if checks.dropped else ""))
    if len(checks.classes) < 2:
        raise DataError(f"{where}: label column {label!r} has a single class ({next(iter(checks.classes))!r}); two are needed")
    return sorted(checks.classes)


# ---------------------------------------------------------------- the stage


def ingest_to(out: Path, data: Path | None, label: str, features: list[str] | None, rows: int, n_features: int,
              seed: int, drop_invalid: bool = False, exclude: list[str] | None = None,
              positive_class: str | None = None) -> dict:
    """Write the immutable snapshot `raw.parquet` (features as float64, label as 0/1, then the passthrough
    columns); return its description."""
    started = time.perf_counter()
    if data is None:
        selection = Selection([f"x{i}" for i in range(n_features)], [], {LABEL: "the label"})
        classes = order_classes([0, 1], positive_class, LABEL, "synthetic data")
        dropped, invalid, source = 0, {}, "synthetic"
        batches = synthetic_batches(rows, n_features, seed)
        if classes != [0, 1]:  # --positive-class 0
            batches = (encode_label(b, classes) for b in batches)
        schema = raw_schema(pa.schema([]), selection)
    else:
        data = Path(data)
        dataset = open_dataset(data)
        selection = choose_columns(dataset, label, features, exclude, data)
        names, passthrough = selection.features, selection.passthrough
        checks = _Checks()
        for _ in clean_batches(dataset, label, names, drop_invalid, checks, data, passthrough):
            pass  # first pass: validate everything before writing anything
        classes = order_classes(validate(checks, label, drop_invalid, data), positive_class, label, data)
        batches = (encode_label(b, classes)
                   for b in clean_batches(dataset, label, names, drop_invalid, _Checks(), data, passthrough))
        schema = raw_schema(dataset.schema, selection)
        source, dropped, invalid = str(data), checks.dropped, checks.invalid
    metadata = {CLASSES_KEY: json.dumps(classes, default=str), SOURCE_KEY: source,
                FEATURES_KEY: json.dumps(selection.features)}
    written = write_batches(out, schema.with_metadata(metadata), batches)
    seconds = time.perf_counter() - started
    return {"path": out.name, "rows": written, "features": selection.features, "classes": classes,
            "positive_class": classes[1], "left_out": selection.left_out, "passthrough": selection.passthrough,
            "dropped_rows": dropped, "invalid_values": invalid,
            "source": source, "seconds": seconds, "rows_per_second": written / max(seconds, 1e-9)}

"""Checks that need neither Prefect nor TensorFlow, run before either is imported: bad input fails in seconds.

Only headers and schemas are read here (never the rows); the ingest stage validates the values. The messages
match the ingest stage's, so a problem reads the same whichever side finds it.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

from eagergraph.errors import DataError

SUFFIX_FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}  # the one list of readable file types


def _readable(path: Path) -> None:
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    if not os.access(path, os.R_OK | (os.X_OK if path.is_dir() else 0)):
        raise DataError(f"{path}: permission denied (not readable)")


def check_source(path: Path) -> str:
    """The one set of checks on an input path (file or folder): it exists, is readable, is of a known type and is
    not empty; returns its format ("csv" or "parquet")."""
    _readable(path)
    if path.is_dir():
        return "parquet"
    fmt = SUFFIX_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise DataError(f"{path}: unsupported file type {path.suffix or '(none)'!r}; "
                        "use .csv, .parquet or a folder of Parquet files")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty")
    return fmt


def data_columns(path: Path) -> list[str]:
    """The column names of a CSV file (its header), a Parquet file or a folder of Parquet files (its first file)."""
    fmt = check_source(path)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in (".parquet", ".pq"))
        if not files:
            raise DataError(f"{path}: the folder holds no Parquet files")
        return _parquet_columns(files[0], shown=path)
    return _csv_columns(path) if fmt == "csv" else _parquet_columns(path, shown=path)


def _csv_columns(path: Path) -> list[str]:
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            return [name.strip() for name in next(csv.reader(handle), [])]
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path}: cannot read as csv: {str(exc).splitlines()[0][:150]}") from None


def _parquet_columns(file: Path, shown: Path) -> list[str]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return list(pq.read_schema(file).names)
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"{shown}: cannot read as parquet: {str(exc).splitlines()[0][:150]}") from None


def preflight_data(data: Path | None, label: str, features: list[str] | None) -> None:
    """Everything about `--data` that a header or schema tells; nothing for synthetic data."""
    if data is not None:
        from eagergraph.data.selection import check_columns  # the ingest stage's own check, on the header only

        check_columns(data_columns(Path(data)), label, features, Path(data))


def check_input(path: Path) -> None:
    """The file `predict --input` reads: present, readable, of a known type."""
    data_columns(Path(path))

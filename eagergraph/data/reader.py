"""Reading a user's table: CSV or Parquet as an Arrow dataset (text through dictionaries, CSV all-text when asked),
scanned in bounded batches, and Arrow's errors rewritten as one line naming the column and the file."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from eagergraph.data.preflight import SUFFIX_FORMATS, check_source
from eagergraph.errors import DataError, first_line


def open_dataset(path: Path, csv_as_text: bool = False) -> ds.Dataset:
    """A pyarrow dataset over a CSV file, a Parquet file or a folder of Parquet files, with at least one row.

    With `csv_as_text` (ingest), a CSV file's columns but dates and times are read as text, so a numeric column
    with blank or missing-token cells anywhere in the file is still read whole; `ColumnProfile` decides what each
    column holds, and `as_numbers` / `canonical_text` turn cells into raw.parquet's types.
    """
    fmt = check_source(path)  # the one set of file checks (preflight runs it before Prefect starts)
    dataset = None
    try:
        dataset = ds.dataset(path, format=fmt)
        if path.is_dir() and not dataset.files:
            raise DataError(f"{path}: the folder holds no Parquet files")
        if fmt == "csv" and csv_as_text:
            dataset = _csv_as_text(path, dataset.schema)
        elif fmt == "parquet":
            dataset = _text_through_dictionary(path, dataset)
        # Parquet: the footers' row counts (reading the first block decoded a whole row group: 0.4 s on 1M rows);
        # CSV: the first block only. A damaged page past the footer is named by the profile pass's read.
        empty = (dataset.count_rows() if fmt == "parquet" else scanner(dataset).head(1).num_rows) == 0
    except (pa.ArrowException, OSError) as exc:
        duplicated = _duplicate_names(path) if fmt == "parquet" and path.is_file() else []
        if duplicated:
            raise DataError(f"{path}: duplicate column names: {', '.join(duplicated)}") from None
        schema = dataset.schema if dataset is not None else None
        raise DataError(f"{path}: cannot read as {fmt}: {arrow_reason(exc, schema)}") from None
    if empty:
        raise DataError(f"{path}: no data rows" + (" (a header only)" if fmt == "csv" else ""))
    return dataset


def scanner(dataset: ds.Dataset, columns: list[str] | None = None, batch_size: int | None = None) -> ds.Scanner:
    """A scanner over the dataset in bounded memory: one batch (of `batch_size` rows, Arrow's default when None) and
    one file read ahead, Parquet column chunks read as decoded. (Arrow's defaults, 16 batches, 4 files and
    pre-buffered row groups ahead, held about the whole 10M-row file: 1.1 GiB of Arrow memory against 0.18 GiB this
    way, in the same time; even `head(1)` left its read-ahead running.)"""
    parquet = isinstance(getattr(dataset, "format", None), ds.ParquetFileFormat)
    options = ds.ParquetFragmentScanOptions(pre_buffer=False) if parquet else None
    sizing = {"batch_size": batch_size} if batch_size else {}
    text = dataset.format.read_options.dictionary_columns if parquet else set()
    if text:  # batches with the text columns as the dictionary arrays read (see `_text_through_dictionary`)
        schema = pa.schema([f.with_type(pa.dictionary(pa.int32(), f.type)) if f.name in text else f for f in dataset.schema])
        dataset = ds.dataset(dataset.files, schema=schema, format=dataset.format, filesystem=dataset.filesystem)
    return dataset.scanner(columns=columns, batch_readahead=1, fragment_readahead=1, fragment_scan_options=options,
                           **sizing)


def scan(dataset: ds.Dataset, columns: list[str] | None = None) -> Iterator[pa.RecordBatch]:
    """The dataset's batches, in bounded memory (see `scanner`)."""
    return scanner(dataset, columns).to_batches()


def _text_through_dictionary(path: Path, dataset: ds.Dataset) -> ds.Dataset:
    """The Parquet dataset again with its text columns read through their dictionary pages (a categorical column's
    few values decoded once per page, not once per cell: 3.5x faster to scan here). The dataset's schema stays the
    file's; `scanner` hands the text columns on as Arrow dictionary arrays, which `canonical_text` and the counts
    work on value by distinct value (a passthrough column is decoded where it is written: `ParquetSink`)."""
    text = [f.name for f in dataset.schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]
    if not text:
        return dataset
    options = ds.ParquetReadOptions(dictionary_columns=text)
    return ds.dataset(path, schema=dataset.schema, format=ds.ParquetFileFormat(read_options=options))


def _csv_as_text(path: Path, inferred: pa.Schema) -> ds.Dataset:
    """The CSV dataset again with every column but dates/times read as text (no cell is turned into null by Arrow)."""
    types = {f.name: (f.type if pa.types.is_temporal(f.type) else pa.string()) for f in inferred}
    options = pa_csv.ConvertOptions(column_types=types, strings_can_be_null=False, quoted_strings_can_be_null=False)
    return ds.dataset(path, format=ds.CsvFileFormat(convert_options=options))


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


# ---------------------------------------------------------------- the passes over the user's rows


def csv_types(path: Path) -> dict[str, pa.DataType]:
    """The column types Arrow infers for a CSV file (its first block); none for Parquet."""
    if not path.is_file() or SUFFIX_FORMATS.get(path.suffix.lower()) != "csv":
        return {}
    return {f.name: f.type for f in ds.dataset(path, format="csv").schema}

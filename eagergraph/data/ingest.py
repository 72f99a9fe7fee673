"""Stage 1, ingest: the synthetic default or the user's CSV/Parquet, validated and snapshotted as raw.parquet."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from eagergraph.data.cells import as_numbers, canonical_text
from eagergraph.data.columns import ColumnProfile
from eagergraph.data.io import LABEL, write_batches
from eagergraph.data.labels import LabelValues, counting_classes, encode_task_label, label_cells, label_missing, label_type
from eagergraph.data.raw_metadata import raw_metadata
from eagergraph.data.reader import arrow_reason, csv_types, open_dataset, scan
from eagergraph.data.selection import Selection, check_columns, choose_columns, describe_kinds, raw_schema, split_key
from eagergraph.data.synthetic import synthetic_batches
from eagergraph.data.task import positive_of, resolve_task, synthetic_task, task_line
from eagergraph.errors import DataError
from eagergraph.metrics import task_of

# ---------------------------------------------------------------- the checks of the user's rows


@dataclass
class _Checks:
    """What the passes over the user's rows learn: label values, per-column invalid and missing counts."""

    classes: LabelValues = field(default_factory=lambda: LabelValues(50))  # bounded: see LabelValues
    invalid: dict[str, int] = field(default_factory=dict)  # refused unless --drop-invalid
    missing: dict[str, int] = field(default_factory=dict)  # numeric features' missing cells (imputed with --impute)
    dropped: int = 0
    rows: int = 0


def profile_columns(dataset: ds.Dataset, label: str, count_values: list[str], where: Path,
                    checks: _Checks | None = None, label_type: pa.DataType | None = None) -> dict[str, ColumnProfile]:
    """One pass over every column: what each holds (see ColumnProfile), in bounded memory; the label's classes and
    missing cells go into `checks` (the label read as `label_type`, the type Arrow infers for a CSV file's)."""
    profiles = {f.name: ColumnProfile(f.name, f.type) for f in dataset.schema if f.name != label}
    checks = checks if checks is not None else _Checks()
    try:
        for batch in scan(dataset):
            for name, profile in profiles.items():
                profile.update(batch.column(name), name in count_values)
            if label in batch.schema.names:
                _label_checks(label_cells(_passthrough(batch.column(label), label_type)), label, checks, where)
            checks.rows += batch.num_rows
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"{where}: cannot read: {arrow_reason(exc, dataset.schema)}") from None
    if label in dataset.schema.names:
        profiles[label] = ColumnProfile(label, dataset.schema.field(label).type, rows=checks.rows)
    return profiles


def _label_checks(target: pa.Array, label: str, checks: _Checks, where: Path) -> np.ndarray:
    """Count the label's missing cells and collect its values, up to the bound of `LabelValues`."""
    target_bad = label_missing(target)
    _count(checks.invalid, label, target_bad)
    if not checks.classes.more:  # a missing label is no class
        checks.classes.update(pc.unique(target.filter(pa.array(~target_bad))).to_pylist())
    return target_bad


def checks_from(profiles: dict[str, ColumnProfile], selection: Selection, impute: str, label_checks: _Checks) -> _Checks:
    """The checks of the profile pass per chosen column: infinite numbers (and, with impute "none", missing ones)
    are invalid; missing numbers are counted either way."""
    checks = _Checks(classes=label_checks.classes, rows=label_checks.rows)
    for name in selection.numeric:
        profile = profiles[name]
        if profile.missing:
            checks.missing[name] = profile.missing
        invalid = profile.nonfinite + (profile.missing if impute == "none" else 0)
        if invalid:
            checks.invalid[name] = invalid
    checks.invalid.update(label_checks.invalid)
    return checks


def distinct_on_every_row(dataset: ds.Dataset, names: list[str]) -> list[str]:
    """Columns that hold a different value on every row (row ids), counted exactly; reads only those columns, block
    by block. A column leaves the candidates at its first missing cell or repeated value inside a block, so a
    column that is no id costs one block's memory; only the values of a column distinct in every block are kept
    (an id column: 8 bytes a row) for the check across blocks."""
    seen: dict[str, list[np.ndarray]] = {name: [] for name in names}
    rows = 0
    for batch in scan(dataset, names) if names else ():
        rows += batch.num_rows
        for name in list(seen):
            column = batch.column(name)
            values = column.to_numpy(zero_copy_only=False) if column.null_count == 0 else None
            if values is None or len(np.unique(values)) < len(values):
                del seen[name]
            else:
                seen[name].append(values)
        if not seen:
            break
    return [n for n, parts in seen.items() if rows > 1 and len(np.unique(np.concatenate(parts))) == rows]


def clean_batches(dataset: ds.Dataset, label: str, selection: Selection, drop_invalid: bool, impute: str,
                  checks: _Checks, where: Path, passthrough_types: dict[str, pa.DataType] | None = None,
                  files: ds.Dataset | None = None) -> Iterator[pa.RecordBatch]:
    """Stream the chosen columns in raw.parquet's form (numeric features float64 with NaN for missing, categorical
    ones as canonical text, the raw label, then the passthrough columns), counting (or dropping) rows with an
    infinite value, a missing label, or (with impute "none") a missing numeric value."""
    columns = [*selection.features, label, *selection.passthrough]
    try:
        for batch in scan(files or dataset, columns):
            yield _clean(batch, label, selection, drop_invalid, impute, checks, where, passthrough_types or {})
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"{where}: cannot read: {arrow_reason(exc, dataset.schema)}") from None


def _count(counts: dict[str, int], name: str, flags: np.ndarray) -> None:
    found = int(flags.sum())
    if found:
        counts[name] = counts.get(name, 0) + found


def _clean(batch: pa.RecordBatch, label: str, selection: Selection, drop_invalid: bool, impute: str, checks: _Checks,
           where: Path, passthrough_types: dict[str, pa.DataType]) -> pa.RecordBatch:
    bad = np.zeros(batch.num_rows, dtype=bool)
    columns = []
    for name in selection.features:
        if name in selection.categorical:
            columns.append(canonical_text(batch.column(name)))
            continue
        values = as_numbers(batch.column(name))
        columns.append(values)
        numbers = values.to_numpy(zero_copy_only=False)
        finite = np.isfinite(numbers)
        if finite.all():  # the usual case: nothing to count
            continue
        missing = np.isnan(numbers)
        _count(checks.missing, name, missing)
        invalid = ~finite if impute == "none" else ~finite & ~missing
        _count(checks.invalid, name, invalid)
        bad |= invalid
    target = label_cells(_passthrough(batch.column(label), passthrough_types.get(label)))
    bad |= _label_checks(target, label, checks, where)
    rest = [_passthrough(batch.column(n), passthrough_types.get(n)) for n in selection.passthrough]
    out = pa.RecordBatch.from_arrays([*columns, target, *rest], names=[*selection.features, LABEL, *selection.passthrough])
    if bad.any() and drop_invalid:
        out = out.filter(pa.array(~bad))
        checks.dropped += int(bad.sum())
    checks.rows += out.num_rows
    return out


def _passthrough(values: pa.Array, kind: pa.DataType | None) -> pa.Array:
    """A passthrough column as the user's file typed it (a CSV column read as text goes back to its inferred type,
    a Parquet text column read as a dictionary to text)."""
    if pa.types.is_dictionary(values.type):
        values = values.cast(values.type.value_type)
    if kind is None or values.type == kind:
        return values
    return pc.cast(canonical_text(values), kind)


def passthrough_types(path: Path, profiles: dict[str, ColumnProfile], names: list[str], label: str) -> dict:
    """The types Arrow infers for a CSV file's label and passthrough columns (read as text: ids stay integers in
    the predictions, a 0/1 label stays a number)."""
    inferred = csv_types(path)
    if not inferred:
        return {}
    types = {n: inferred[n] for n in names if not pa.types.is_string(inferred[n]) and profiles[n].numeric and profiles[n].missing == 0}
    return {**types, label: inferred[label]}


def validate(checks: _Checks, label: str, drop_invalid: bool, where: Path, impute: str = "none") -> None:
    """Refuse what a pass over the rows found wrong."""
    if checks.invalid and not drop_invalid:
        counts = ", ".join(f"{name}: {count}" for name, count in checks.invalid.items())
        hint = "pass --impute median (missing numeric values) or --drop-invalid" if impute == "none" and any(
            name in checks.missing for name in checks.invalid) else "fix them or pass --drop-invalid"
        raise DataError(f"{where}: missing, NaN or infinite values ({counts}); {hint}")
    if checks.rows == 0:
        raise DataError(f"{where}: no data rows" + (" left after dropping invalid rows" if checks.dropped else ""))
    if len(checks.classes) < 2:
        raise DataError(f"{where}: label column {label!r} has a single class ({next(iter(checks.classes))!r}); two are needed")


def select_from(dataset: ds.Dataset, data: Path, label: str, features: list[str] | None, exclude: list[str] | None,
                categorical: list[str] | None, max_categories: int,
                checks: _Checks | None = None, id_column: str | None = None) -> tuple[Selection, dict[str, ColumnProfile]]:
    """Profile the input's columns and decide each one's kind (one pass, plus the integer columns once for ids)."""
    check_columns(dataset.schema.names, label, features, data)
    label_type = csv_types(data).get(label)
    profiles = profile_columns(dataset, label, list(categorical or []), data, checks, label_type)
    selection = choose_columns(profiles, label, features, exclude, categorical, max_categories, data,
                               lambda names: distinct_on_every_row(dataset, names), id_column)
    if id_column is not None and not distinct_on_every_row(dataset, [id_column]):
        raise DataError(f"{data}: --id-column {id_column!r} is not a row id: it repeats a value or has missing cells")
    return selection, profiles


# ---------------------------------------------------------------- the stage


def ingest_to(out: Path, data: Path | None, label: str, features: list[str] | None, rows: int, n_features: int,
              seed: int, drop_invalid: bool = False, exclude: list[str] | None = None,
              positive_class: str | None = None, categorical: list[str] | None = None, max_categories: int = 50,
              impute: str = "none", task: str = "auto", max_classes: int = 50, id_column: str | None = None) -> dict:
    """Write the immutable snapshot `raw.parquet` (numeric features as float64 with NaN for missing, categorical
    ones as text, the label encoded for its task (see `encode_task_label`), then the passthrough columns); return
    its description, with the task chosen and why."""
    started = time.perf_counter()
    if data is None:
        selection = Selection([f"x{i}" for i in range(n_features)], [], {LABEL: "the label"})
        task, reason, classes = synthetic_task(task, positive_class)
        checks, source = _Checks(), "synthetic"
        batches = synthetic_batches(rows, n_features, seed, task=task)
        if task != "binary" or classes != [0, 1]:  # --positive-class 0, or another task's label
            batches = (encode_task_label(b, task, classes) for b in batches)
        schema = raw_schema(pa.schema([]), selection)
    else:
        data = Path(data)
        dataset = open_dataset(data, csv_as_text=True)
        label_checks = _Checks(classes=LabelValues(max_classes))
        selection, profiles = select_from(dataset, data, label, features, exclude, categorical, max_categories,
                                          label_checks, id_column)
        types = passthrough_types(data, profiles, selection.passthrough, label)
        checks = checks_from(profiles, selection, impute, label_checks)  # the profile pass validated everything
        validate(checks, label, drop_invalid, data, impute)
        kind = types.get(label, dataset.schema.field(label).type)
        task, reason, classes = resolve_task(task, checks.classes, kind, max_classes, label, positive_class, data)
        kept = _Checks(classes=LabelValues(max_classes))
        batches = (encode_task_label(b, task, classes)
                   for b in clean_batches(dataset, label, selection, drop_invalid, impute, kept, data, types))
        schema = raw_schema(dataset.schema, selection, passthrough_types=types)
        source = str(data)
    schema = schema.set(schema.get_field_index(LABEL), pa.field(LABEL, label_type(task)))
    class_counts = np.zeros(1 if task == "regression" else len(classes), dtype=np.int64)
    batches = counting_classes(batches, task, class_counts)
    key = split_key(selection)
    metadata = raw_metadata(classes, source, selection.features, impute, max_categories, checks.missing, task, key)
    try:
        written = write_batches(out, schema.with_metadata(metadata), batches)
        if data is not None:
            checks.dropped = kept.dropped
            validate(kept, label, drop_invalid, data, impute)  # rows are left after dropping the invalid ones
    except BaseException:
        out.unlink(missing_ok=True)  # nothing half-written where the next stage would read it
        raise
    seconds = time.perf_counter() - started
    return {"path": out.name, "rows": written, "features": selection.features, "categorical": selection.categorical,
            "task": task, "task_reason": reason, "split_key": key,
            "classes": classes, "class_counts": class_counts.tolist(),
            "positive_class": positive_of(task, classes), "left_out": selection.left_out,
            "passthrough": selection.passthrough, "dropped_rows": checks.dropped, "invalid_values": checks.invalid,
            "missing_values": checks.missing, "impute": impute,
            "distinct": {n: profiles[n].distinct for n in selection.categorical} if data is not None else {},
            "source": source, "seconds": seconds, "rows_per_second": written / max(seconds, 1e-9)}


def ingest_message(result: dict) -> str:
    """The stage's log line: rows, the features used (categoricals with their number of values), missing values,
    dropped rows, the positive class, and the columns left out with their reasons."""
    selection = Selection(result["features"], result["passthrough"], result["left_out"], result.get("categorical", []))
    message = f"ingested {result['rows']} rows from {result['source']}; {describe_kinds(selection, result.get('distinct'))}"
    if result.get("missing_values"):
        counts = ", ".join(f"{name}: {count}" for name, count in result["missing_values"].items())
        message += f"; missing numeric values ({counts}){' imputed from the train split' if result.get('impute', 'none') != 'none' else ''}"
    if result["dropped_rows"]:
        counts = ", ".join(f"{name}: {count}" for name, count in result["invalid_values"].items())
        message += f"; dropped {result['dropped_rows']} rows with missing, NaN or infinite values ({counts})"
    message += f"; {task_line(task_of(result), result.get('task_reason', 'two label values'))}"
    return message + (f"; positive class {result['positive_class']!r}" if result.get("positive_class") is not None else "")

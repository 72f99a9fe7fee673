"""Stage 2, normalize: the split (train, validation, test: a function of each row, `eagergraph.data.split`), then the
statistics fitted on the train split only (mean and std, imputation values, vocabularies) and applied to every
split; the train split's drift profile on the way."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from eagergraph.data.columns import dictionary_counts
from eagergraph.data.io import LABEL, ParquetSink, float64_column, iter_batches
from eagergraph.data.preprocessing import category_codes_arrow, indicator_names, numeric_z, standardize
from eagergraph.data.profile import TrainSample, numeric_profile
from eagergraph.data.raw_metadata import CLASSES_KEY, IMPUTE_KEY, MAX_CATEGORIES_KEY, MISSING_KEY, SOURCE_KEY, SPLIT_KEY, raw_task
from eagergraph.data.selection import raw_features
from eagergraph.data.split import SPLITS, TEST, TRAIN, VALIDATION, SplitRule, file_split_codes, key_types
from eagergraph.data.split_checks import check_split
from eagergraph.io import write_json
from eagergraph.metrics import DEFAULT_TASK
from eagergraph.moments import RunningMoments, present_moments


@dataclass(frozen=True)
class Normalizer:
    """Training statistics, saved as normalizer.json and baked into the exported models (see the contract in
    `eagergraph.data.preprocessing`): per numeric feature its mean, std, imputation value and missing count on the
    train split; per categorical feature its vocabulary (most frequent first), missing and distinct counts; rows per
    split and the rule that drew the split (`split`: `SplitRule`'s fields; None in run directories written before)."""

    features: list[str]
    numeric: list[dict] = field(default_factory=list)
    categorical: list[dict] = field(default_factory=list)
    classes: list = field(default_factory=list)
    train_rows: int = 0
    test_rows: int = 0
    task: str = DEFAULT_TASK
    target: dict | None = None  # regression: the label's {"mean", "std"} on the train split (the model's target is z)
    validation_rows: int = 0
    split: dict | None = None  # the rule that drew the split (`SplitRule`), so a later run can recompute it

    @property
    def mean(self) -> list[float]:
        return [spec["mean"] for spec in self.numeric]

    @property
    def std(self) -> list[float]:
        return [spec["std"] for spec in self.numeric]

    @property
    def vocabulary_sizes(self) -> dict[str, int]:
        return {spec["name"]: len(spec["vocabulary"]) for spec in self.categorical}

    @classmethod
    def of(cls, values: dict) -> "Normalizer":
        """normalizer.json's fields as a Normalizer; the schema written before categories and imputation (`mean`
        and `std` lists: every feature numeric, none imputed) is read as the current one. The one place it is."""
        values = dict(values)
        if "mean" in values:
            values["numeric"] = [{"name": n, "mean": m, "std": s, "impute": None, "missing": 0}
                                 for n, m, s in zip(values["features"], values.pop("mean"), values.pop("std"))]
        return cls(**values)

    @classmethod
    def load(cls, path: Path) -> "Normalizer":
        return cls.of(json.loads(Path(path).read_text()))


@dataclass(frozen=True)
class SplitFiles:
    """The files normalize writes (the task builds them from the run directory's layout)."""

    normalizer: Path
    train: Path
    validation: Path
    test: Path
    test_raw: Path
    profile: Path


def label_field(task: str) -> pa.Field:
    """The label column of the normalized and engineered splits: binary int8 0/1, multiclass int16 codes,
    regression float32, standardized with the train split's mean and std."""
    return pa.field(LABEL, {"binary": pa.int8(), "multiclass": pa.int16(), "regression": pa.float32()}[task])


def split_rule(schema: pa.Schema, seed: int, test_fraction: float, validation_fraction: float) -> SplitRule:
    """raw.parquet's split rule: keyed by the row id column(s) ingest recorded, else by every column (the content)."""
    meta = schema.metadata or {}
    key, by = (json.loads(meta[SPLIT_KEY]), "id") if SPLIT_KEY in meta else (list(schema.names), "content")
    return SplitRule(key, seed, test_fraction, validation_fraction, by, types=key_types(schema, key))


def raw_split_codes(raw: Path, rule: SplitRule) -> np.ndarray:
    """Each raw.parquet row's split code (`split_codes`), block by block, reading the key columns only."""
    meta = pq.read_schema(raw).metadata or {}
    classes = json.loads(meta.get(CLASSES_KEY, b"[]")) if raw_task(meta) != "regression" else None
    return file_split_codes(raw, rule, classes)


def _merge_counts(total: dict, values: pa.Array) -> None:
    """Fold a block's value counts into `total`: a dictionary column counted on its indices, a plain one by Arrow's
    hash count."""
    counted = dictionary_counts(values) if pa.types.is_dictionary(values.type) else pc.value_counts(pc.drop_null(values))
    for value, count in zip(counted.field("values").to_pylist(), counted.field("counts").to_pylist()):
        total[value] = total.get(value, 0) + count


def vocabulary(counts: dict[str, int], cap: int) -> list[str]:
    """The categorical column's vocabulary: most frequent first, ties broken by value, at most `cap` values."""
    return [value for value, _ in sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:cap]]


def fit_normalizer(raw: Path, codes: np.ndarray, rule: SplitRule | None = None) -> tuple[Normalizer, dict]:
    """Fit every statistic on the train rows only, in one pass over raw.parquet's row groups; return the
    normalizer and the train split's drift profile."""
    file = pq.ParquetFile(raw)
    schema = file.schema_arrow
    meta = schema.metadata or {}
    features = raw_features(schema)
    categorical = [n for n in features if not pa.types.is_floating(schema.field(n).type)]
    numeric = [n for n in features if n not in categorical]
    impute = meta.get(IMPUTE_KEY, b"none").decode()
    cap = int(meta.get(MAX_CATEGORIES_KEY, b"50"))
    had_missing = json.loads(meta.get(MISSING_KEY, b"{}"))
    imputed = [n for n in numeric if impute != "none" and had_missing.get(n)]
    moments = RunningMoments(len(numeric))
    sizes = np.bincount(codes, minlength=len(SPLITS))
    sample = TrainSample(numeric, int(sizes[TRAIN]))
    missing = dict.fromkeys(features, 0)
    counts: dict[str, dict] = {n: {} for n in categorical}
    present: dict[str, list[np.ndarray]] = {n: [] for n in imputed if impute == "median"}
    start = 0
    # Python threads over row groups were 2.5x slower here (Arrow's and BLAS's own threads oversubscribe two cores).
    for batch in iter_batches(raw, features, text_as_dictionary=True):
        keep = np.flatnonzero(codes[start:start + batch.num_rows] == TRAIN)  # once per block: `take` is 5x a boolean mask
        start += batch.num_rows
        train = {n: float64_column(batch, n).take(keep) for n in numeric}
        counted = present_moments([train[n] for n in numeric])
        moments.merge(*counted)
        sample.add(train, len(keep))
        for j, name in enumerate(numeric):
            missing[name] += len(keep) - int(counted[0][j])  # the present values were counted once, above
            if name in present:
                present[name].append(train[name][~np.isnan(train[name])])
        at = pa.array(keep) if categorical else None
        for name in categorical:  # the categorical columns' train cells alone (a dictionary's indices)
            cells = batch.column(name).take(at)
            missing[name] += cells.null_count
            _merge_counts(counts[name], cells)
    mean, std = moments.mean, moments.std()
    specs = []
    for j, name in enumerate(numeric):
        value = None
        if name in imputed:
            value = float(np.median(np.concatenate(present[name]))) if name in present and moments.count[j] else float(mean[j])
        specs.append({"name": name, "mean": float(mean[j]), "std": float(std[j]), "impute": value, "missing": missing[name]})
    cats = [{"name": n, "vocabulary": vocabulary(counts[n], cap), "missing": missing[n], "distinct": len(counts[n])}
            for n in categorical]
    classes = json.loads(meta[CLASSES_KEY])
    task = raw_task(meta)
    target = target_moments(raw, codes) if task == "regression" else None
    normalizer = Normalizer(features, specs, cats, classes, int(sizes[TRAIN]), int(sizes[TEST]), task, target,
                            int(sizes[VALIDATION]), rule.as_json() if rule else None)
    profile = {"features": features, "types": {n: str(schema.field(n).type) for n in features},
               "kinds": {n: "categorical" if n in categorical else "numeric" for n in features},
               "classes": classes, "rows": normalizer.train_rows,
               "sketch": {s["name"]: numeric_profile(sample, s["name"], s["mean"], float(moments.m2[j] / max(moments.count[j], 1)) ** 0.5)
                          for j, s in enumerate(specs)},
               "categories": {n: {"counts": counts[n], "missing": missing[n]} for n in categorical}}
    return normalizer, profile


def target_moments(raw: Path, codes: np.ndarray) -> dict:
    """A regression label's mean and std on the train rows (std 1 for a constant one, as for features)."""
    train = pq.read_table(raw, columns=[LABEL]).column(LABEL).to_numpy()[codes == TRAIN].astype(np.float64)
    std = float(train.std()) if len(train) else 1.0
    return {"mean": float(train.mean()) if len(train) else 0.0, "std": std if std > 0 else 1.0}


def drawn_split(raw: Path, rule: SplitRule) -> np.ndarray:
    """raw.parquet's split codes under `rule`, checked to leave every class in each split."""
    meta = pq.read_schema(raw).metadata or {}
    codes = raw_split_codes(raw, rule)
    labels = pq.read_table(raw, columns=[LABEL]).column(LABEL).to_numpy()
    check_split(labels, codes, meta.get(SOURCE_KEY, str(raw).encode()).decode(), raw_task(meta),
                json.loads(meta.get(CLASSES_KEY, b"[]")))
    return codes


def normalized_schema(normalizer: Normalizer) -> pa.Schema:
    """The normalized splits' columns: z of each numeric feature (float32, imputed), a missing flag per imputed
    one, the slot code of each categorical one (its vocabulary index, then unseen, then missing), the label. No
    cell is ever missing (a gap is a NaN, an imputed value or a slot), so no field is nullable: Parquet then writes
    no definition levels."""
    return pa.schema([*(pa.field(s["name"], pa.float32(), nullable=False) for s in normalizer.numeric),
                      *(pa.field(name, pa.float32(), nullable=False) for name in indicator_names(normalizer).values()),
                      *(pa.field(s["name"], pa.int16(), nullable=False) for s in normalizer.categorical),
                      label_field(normalizer.task).with_nullable(False)])


def normalize_batch(batch: pa.RecordBatch, normalizer: Normalizer, schema: pa.Schema) -> pa.RecordBatch:
    """One raw block → its normalized columns (column by column: contiguous arrays, no rows × columns copy)."""
    parts = [numeric_z(float64_column(batch, s["name"]), s) for s in normalizer.numeric]
    flags = [missing.astype(np.float32) for (_, missing), s in zip(parts, normalizer.numeric) if s["impute"] is not None]
    codes = [category_codes_arrow(batch.column(s["name"]), s["vocabulary"]).astype(np.int16) for s in normalizer.categorical]
    return pa.RecordBatch.from_arrays([*(z for z, _ in parts), *flags, *codes, normalized_label(batch, normalizer)],
                                      schema=schema)


def normalized_label(batch: pa.RecordBatch, normalizer: Normalizer) -> pa.Array:
    """The label as the model trains on it: classes as they are, a regression target standardized (float32)."""
    if normalizer.task != "regression":
        return batch.column(LABEL)
    y = standardize(float64_column(batch, LABEL), normalizer.target["mean"], normalizer.target["std"])
    return pa.array(y.astype(np.float32))


def write_splits(raw: Path, files: SplitFiles, normalizer: Normalizer, codes: np.ndarray) -> None:
    """Write the normalized train, validation and test splits, and the raw test split that the exported models take
    (with the passthrough columns of raw.parquet, ids, dates and text, so predictions can be joined back to the
    input)."""
    schema = normalized_schema(normalizer)
    raw_schema = pq.read_schema(raw).remove_metadata()
    with ParquetSink(files.train, schema) as train, ParquetSink(files.validation, schema) as validation, \
            ParquetSink(files.test, schema) as test, ParquetSink(files.test_raw, raw_schema) as test_raw:
        start = 0
        for batch in iter_batches(raw, text_as_dictionary=True):
            block = codes[start:start + batch.num_rows]
            start += batch.num_rows
            table = normalize_batch(batch, normalizer, schema)
            for code, sink in ((TRAIN, train), (VALIDATION, validation), (TEST, test)):
                sink.write(table.filter(pa.array(block == code)))
            test_raw.write(batch.filter(pa.array(block == TEST)))


def normalize_with_codes(raw: Path, files: SplitFiles, codes: np.ndarray, rule: SplitRule) -> Normalizer:
    """Fit on the train rows, write the splits, normalizer.json and the drift profile: the one normalizer building,
    for a single file and for merged partitions alike."""
    normalizer, profile = fit_normalizer(raw, codes, rule)
    write_splits(raw, files, normalizer, codes)
    write_json(files.normalizer, asdict(normalizer))
    write_json(files.profile, profile)
    return normalizer


def normalize_to(raw: Path, files: SplitFiles, test_fraction: float, validation_fraction: float, seed: int) -> dict:
    """Stage logic: split by the rule, fit on train, write the normalized splits, normalizer.json and the profile."""
    started = time.perf_counter()
    rule = split_rule(pq.read_schema(raw), seed, test_fraction, validation_fraction)
    codes = drawn_split(raw, rule)
    normalizer = normalize_with_codes(raw, files, codes, rule)
    seconds = time.perf_counter() - started
    return {**describe_normalizer(normalizer), "seconds": seconds, "rows_per_second": len(codes) / max(seconds, 1e-9)}


def describe_normalizer(normalizer: Normalizer) -> dict:
    """What the fit found, for the stage's result and log: rows per split, imputation and vocabularies per column."""
    return {"train_rows": normalizer.train_rows, "validation_rows": normalizer.validation_rows,
            "test_rows": normalizer.test_rows, "split_by": (normalizer.split or {}).get("by"),
            "split_key": (normalizer.split or {}).get("key"),
            "imputed": {s["name"]: {"missing": s["missing"], "value": s["impute"]} for s in normalizer.numeric
                        if s["impute"] is not None},
            "vocabulary_sizes": normalizer.vocabulary_sizes}

"""Stage 2, normalize: a seeded stratified split, then the statistics fitted on the train split only (mean and
std, imputation values, vocabularies) and applied to both splits; the train split's drift profile on the way."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from eagergraph.data.columns import raw_features
from eagergraph.data.ingest import CLASSES_KEY, IMPUTE_KEY, MAX_CATEGORIES_KEY, MISSING_KEY, SOURCE_KEY, TASK_KEY
from eagergraph.data.io import LABEL, ParquetSink, iter_batches
from eagergraph.data.preprocessing import MISSING_SUFFIX, category_codes_arrow, numeric_z, standardize
from eagergraph.data.profile import TrainSample, numeric_profile
from eagergraph.errors import DataError
from eagergraph.io import write_json


@dataclass(frozen=True)
class Normalizer:
    """Training statistics, saved as normalizer.json and baked into the exported models (see the contract in
    `eagergraph.data.preprocessing`): per numeric feature its mean, std, imputation value and missing count on the
    train split; per categorical feature its vocabulary (most frequent first), missing and distinct counts."""

    features: list[str]
    numeric: list[dict] = field(default_factory=list)
    categorical: list[dict] = field(default_factory=list)
    classes: list = field(default_factory=list)
    train_rows: int = 0
    test_rows: int = 0
    task: str = "binary"
    target: dict | None = None  # regression: the label's {"mean", "std"} on the train split (the model's target is z)

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
    test: Path
    test_raw: Path
    profile: Path


def task_of(raw_metadata: dict | None) -> str:
    """The task recorded in raw.parquet's metadata (snapshots written before tasks are binary)."""
    return (raw_metadata or {}).get(TASK_KEY, b"binary").decode()


def label_field(task: str) -> pa.Field:
    """The label column of the normalized and engineered splits: binary int8 0/1, multiclass int16 codes,
    regression float32, standardized with the train split's mean and std."""
    return pa.field(LABEL, {"binary": pa.int8(), "multiclass": pa.int16(), "regression": pa.float32()}[task])


def test_rows(count: int, test_fraction: float) -> int:
    """How many of `count` rows (a class's, or a regression table's) go to the test split: round(fraction × n)."""
    return int(round(count * test_fraction))


def random_test_mask(n_rows: int, test_fraction: float, seed: int) -> np.ndarray:
    """True for test rows: round(fraction × n) rows chosen by a seeded draw (regression: no classes to stratify)."""
    rng = np.random.default_rng([seed, 2])
    mask = np.zeros(n_rows, dtype=bool)
    mask[rng.choice(n_rows, test_rows(n_rows, test_fraction), replace=False, shuffle=False)] = True
    return mask


def task_test_mask(labels: np.ndarray, task: str, test_fraction: float, seed: int) -> np.ndarray:
    """The split of a task: stratified per class (binary, multiclass), a seeded random draw (regression)."""
    if task == "regression":
        return random_test_mask(len(labels), test_fraction, seed)
    return stratified_test_mask(labels, test_fraction, seed)


def stratified_test_mask(labels: np.ndarray, test_fraction: float, seed: int) -> np.ndarray:
    """True for test rows: round(fraction × n) rows of each class, chosen by a seeded permutation (classes in
    code order: 0 then 1 for a binary label, so its split is the one it always was)."""
    rng = np.random.default_rng([seed, 2])
    mask = np.zeros(len(labels), dtype=bool)
    for value in np.unique(labels):
        in_class = labels == value
        count = int(np.count_nonzero(in_class))
        # The draw `rng.choice(<the class's row numbers>, ...)` makes, taken as positions among the class's rows
        # (numpy draws the same positions for an array and for its length), so the row numbers are never held.
        picked = np.sort(rng.choice(count, test_rows(count, test_fraction), replace=False, shuffle=False))
        _mark_positions(mask, in_class, picked)
    return mask


def _mark_positions(mask: np.ndarray, in_class: np.ndarray, picked: np.ndarray, block: int = 1 << 20) -> None:
    """Set `mask` on the class rows at the sorted positions `picked` (k-th row of the class), a block at a time."""
    seen = first = 0
    for start in range(0, len(in_class), block):
        rows = np.flatnonzero(in_class[start:start + block])
        last = int(np.searchsorted(picked, seen + len(rows)))
        mask[start + rows[picked[first:last] - seen]] = True
        seen, first = seen + len(rows), last


def check_split(labels: np.ndarray, mask: np.ndarray, where: Path | str, task: str = "binary",
                classes: list | None = None) -> None:
    """Each split must hold every class (regression: a row), or neither training nor evaluation means anything:
    checked on the split as drawn (`mask`: True for test rows)."""
    if task == "regression":
        refuse_split(np.array([np.count_nonzero(~mask)]), np.array([np.count_nonzero(mask)]), where, task)
        return
    size = len(classes) if classes else int(labels.max(initial=1)) + 1
    refuse_split(np.bincount(labels[~mask], minlength=size), np.bincount(labels[mask], minlength=size), where, task, classes)


def check_planned_split(counts: list[int], test_fraction: float, where: Path | str, task: str,
                        classes: list | None = None) -> None:
    """`check_split` before the split is drawn, from the rows per class alone (regression: [rows]), which decide how
    many rows of each class the split takes (`test_rows`): so a table too small to split is refused before
    TensorFlow loads."""
    counts = np.asarray(counts, dtype=np.int64)
    test = np.array([test_rows(int(n), test_fraction) for n in counts], dtype=np.int64)
    refuse_split(counts - test, test, where, task, classes)


def refuse_split(train: np.ndarray, test: np.ndarray, where: Path | str, task: str, classes: list | None = None) -> None:
    """The one rule and its messages: rows per class (code order; regression: one count) in each split."""
    total = int(train.sum() + test.sum())
    if task == "regression":
        if not train[0] or not test[0]:
            raise DataError(f"{where}: too few rows for the split ({total} rows in all); add rows or change --test-fraction")
        return
    if task == "multiclass":
        for code, value in enumerate(classes or range(len(train))):
            if not train[code] or not test[code]:
                count = int(train[code] + test[code])
                raise DataError(f"{where}: class {value!r} of the label has {count} row{'s' if count != 1 else ''}, "
                                "too few for both the train and the test split; add rows of it, drop them, or change --test-fraction")
        return
    for name, counts in (("train", train), ("test", test)):
        if counts.min() == 0:
            raise DataError(
                f"{where}: too few rows for the split: the {name} split has {counts[0]} rows of class 0 and "
                f"{counts[1]} of class 1 ({total} rows in all); add rows or change --test-fraction")


class RunningMoments:
    """Mean and variance per column in one streaming pass (Chan et al.'s parallel merge), exact to float64; each
    column keeps its own count, so missing cells are simply left out of its statistics."""

    def __init__(self, n_columns: int) -> None:
        self.count = np.zeros(n_columns)
        self.mean = np.zeros(n_columns)
        self.m2 = np.zeros(n_columns)

    def update(self, x: np.ndarray) -> None:
        if len(x) == 0:
            return
        self.merge(len(x), x.mean(axis=0), ((x - x.mean(axis=0)) ** 2).sum(axis=0))

    def merge(self, count: int | np.ndarray, mean: np.ndarray, m2: np.ndarray) -> None:
        count = np.broadcast_to(np.asarray(count, dtype=np.float64), self.count.shape)
        total = self.count + count
        safe = np.where(total > 0, total, 1.0)
        delta = np.where(count > 0, mean - self.mean, 0.0)
        self.mean = self.mean + delta * count / safe
        self.m2 = self.m2 + np.where(count > 0, m2, 0.0) + delta**2 * self.count * count / safe
        self.count = total

    def std(self) -> np.ndarray:
        std = np.sqrt(self.m2 / np.maximum(self.count, 1))
        return np.where(std > 0, std, 1.0)  # a constant column becomes 0 after centring, never a division by zero


def _column(batch: pa.RecordBatch, name: str) -> np.ndarray:
    return batch.column(name).to_numpy(zero_copy_only=False).astype(np.float64, copy=False)


def _present_moments(columns: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per column: count, mean and sum of squared deviations of its present (not NaN) values."""
    counts, means, m2 = np.zeros(len(columns)), np.zeros(len(columns)), np.zeros(len(columns))
    for j, column in enumerate(columns):
        gaps = np.isnan(column)
        present = column[~gaps] if gaps.any() else column
        if len(present):
            counts[j], means[j] = len(present), present.mean()
            centred = present - means[j]
            # einsum, not np.dot: BLAS's threads made the dot product 1000x slower on two busy cores (measured)
            m2[j] = float(np.einsum("i,i->", centred, centred))
    return counts, means, m2


def _merge_counts(total: dict, values: pa.Array) -> None:
    counted = pc.value_counts(pc.drop_null(values))
    for value, count in zip(counted.field("values").to_pylist(), counted.field("counts").to_pylist()):
        total[value] = total.get(value, 0) + count


def vocabulary(counts: dict[str, int], cap: int) -> list[str]:
    """The categorical column's vocabulary: most frequent first, ties broken by value, at most `cap` values."""
    return [value for value, _ in sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:cap]]


def fit_normalizer(raw: Path, mask: np.ndarray) -> tuple[Normalizer, dict]:
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
    sample = TrainSample(numeric, int((~mask).sum()))
    missing = dict.fromkeys(features, 0)
    counts: dict[str, dict] = {n: {} for n in categorical}
    present: dict[str, list[np.ndarray]] = {n: [] for n in imputed if impute == "median"}
    start = 0
    # Python threads over row groups were 2.5x slower here (Arrow's and BLAS's own threads oversubscribe two cores).
    for batch in iter_batches(raw, columns=features):
        keep = np.flatnonzero(~mask[start:start + batch.num_rows])  # once per block: `take` is 5x a boolean mask
        start += batch.num_rows
        train = {n: _column(batch, n).take(keep) for n in numeric}
        moments.merge(*_present_moments([train[n] for n in numeric]))
        sample.add(train, len(keep))
        for name in numeric:
            gaps = np.isnan(train[name])
            missing[name] += int(gaps.sum())
            if name in present:
                present[name].append(train[name][~gaps])
        rows = batch.take(pa.array(keep)) if categorical else None
        for name in categorical:
            missing[name] += rows.column(name).null_count
            _merge_counts(counts[name], rows.column(name))
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
    task = task_of(meta)
    target = target_moments(raw, mask) if task == "regression" else None
    normalizer = Normalizer(features, specs, cats, classes, int((~mask).sum()), int(mask.sum()), task, target)
    profile = {"features": features, "types": {n: str(schema.field(n).type) for n in features},
               "kinds": {n: "categorical" if n in categorical else "numeric" for n in features},
               "classes": classes, "rows": normalizer.train_rows,
               "sketch": {s["name"]: numeric_profile(sample, s["name"], s["mean"], float(moments.m2[j] / max(moments.count[j], 1)) ** 0.5)
                          for j, s in enumerate(specs)},
               "categories": {n: {"counts": counts[n], "missing": missing[n]} for n in categorical}}
    return normalizer, profile


def target_moments(raw: Path, mask: np.ndarray) -> dict:
    """A regression label's mean and std on the train rows (std 1 for a constant one, as for features)."""
    train = pq.read_table(raw, columns=[LABEL]).column(LABEL).to_numpy()[~mask].astype(np.float64)
    std = float(train.std()) if len(train) else 1.0
    return {"mean": float(train.mean()) if len(train) else 0.0, "std": std if std > 0 else 1.0}


def split_mask(raw: Path, test_fraction: float, seed: int) -> np.ndarray:
    """raw.parquet's test mask: the task's split (stratified per class, or random for regression), checked to
    leave every class in both splits."""
    file = pq.ParquetFile(raw)
    meta = file.schema_arrow.metadata or {}
    labels = file.read(columns=[LABEL]).column(LABEL).to_numpy()
    task = task_of(meta)
    mask = task_test_mask(labels, task, test_fraction, seed)
    check_split(labels, mask, meta.get(SOURCE_KEY, str(raw).encode()).decode(), task, json.loads(meta.get(CLASSES_KEY, b"[]")))
    return mask


def normalized_schema(normalizer: Normalizer) -> pa.Schema:
    """The normalized splits' columns: z of each numeric feature (float32, imputed), a missing flag per imputed
    one, the slot code of each categorical one (its vocabulary index, then unseen, then missing), the label."""
    return pa.schema([*(pa.field(s["name"], pa.float32()) for s in normalizer.numeric),
                      *(pa.field(s["name"] + MISSING_SUFFIX, pa.float32()) for s in normalizer.numeric if s["impute"] is not None),
                      *(pa.field(s["name"], pa.int16()) for s in normalizer.categorical), label_field(normalizer.task)])


def normalize_batch(batch: pa.RecordBatch, normalizer: Normalizer, schema: pa.Schema) -> pa.RecordBatch:
    """One raw block → its normalized columns (column by column: contiguous arrays, no rows × columns copy)."""
    parts = [numeric_z(_column(batch, s["name"]), s) for s in normalizer.numeric]
    flags = [missing.astype(np.float32) for (_, missing), s in zip(parts, normalizer.numeric) if s["impute"] is not None]
    codes = [category_codes_arrow(batch.column(s["name"]), s["vocabulary"]).astype(np.int16) for s in normalizer.categorical]
    return pa.RecordBatch.from_arrays([*(z for z, _ in parts), *flags, *codes, normalized_label(batch, normalizer)],
                                      schema=schema)


def normalized_label(batch: pa.RecordBatch, normalizer: Normalizer) -> pa.Array:
    """The label as the model trains on it: classes as they are, a regression target standardized (float32)."""
    if normalizer.task != "regression":
        return batch.column(LABEL)
    y = standardize(_column(batch, LABEL), normalizer.target["mean"], normalizer.target["std"])
    return pa.array(y.astype(np.float32))


def write_splits(raw: Path, files: SplitFiles, normalizer: Normalizer, mask: np.ndarray) -> None:
    """Write the normalized train and test splits, and the raw test split that the exported models take (with the
    passthrough columns of raw.parquet, ids, dates and text, so predictions can be joined back to the input)."""
    schema = normalized_schema(normalizer)
    raw_schema = pq.read_schema(raw).remove_metadata()
    with ParquetSink(files.train, schema) as train, ParquetSink(files.test, schema) as test, \
            ParquetSink(files.test_raw, raw_schema) as test_raw:
        start = 0
        for batch in iter_batches(raw):
            rows = pa.array(mask[start:start + batch.num_rows])
            start += batch.num_rows
            table = normalize_batch(batch, normalizer, schema)
            train.write(table.filter(pc.invert(rows)))
            test.write(table.filter(rows))
            test_raw.write(batch.filter(rows))


def normalize_with_mask(raw: Path, files: SplitFiles, mask: np.ndarray) -> Normalizer:
    """Fit on the train rows, write the splits, normalizer.json and the drift profile: the one normalizer building,
    for a single file and for merged partitions alike."""
    normalizer, profile = fit_normalizer(raw, mask)
    write_splits(raw, files, normalizer, mask)
    write_json(files.normalizer, asdict(normalizer))
    write_json(files.profile, profile)
    return normalizer


def normalize_to(raw: Path, files: SplitFiles, test_fraction: float, seed: int) -> dict:
    """Stage logic: split, fit on train, write both normalized splits, normalizer.json and the train profile."""
    started = time.perf_counter()
    mask = split_mask(raw, test_fraction, seed)
    normalizer = normalize_with_mask(raw, files, mask)
    seconds = time.perf_counter() - started
    return {**describe_normalizer(normalizer), "seconds": seconds, "rows_per_second": len(mask) / max(seconds, 1e-9)}


def describe_normalizer(normalizer: Normalizer) -> dict:
    """What the fit found, for the stage's result and log: rows per split, imputation and vocabularies per column."""
    return {"train_rows": normalizer.train_rows, "test_rows": normalizer.test_rows,
            "imputed": {s["name"]: {"missing": s["missing"], "value": s["impute"]} for s in normalizer.numeric
                        if s["impute"] is not None},
            "vocabulary_sizes": normalizer.vocabulary_sizes}

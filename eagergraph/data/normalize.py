"""Stage 2, normalize: a seeded stratified split, then mean/std fitted on the train split only and applied to both."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from eagergraph.data.columns import raw_features
from eagergraph.data.ingest import CLASSES_KEY, SOURCE_KEY
from eagergraph.data.io import LABEL, ParquetSink, iter_batches
from eagergraph.data.preprocessing import standardize
from eagergraph.errors import DataError
from eagergraph.io import write_json
from eagergraph.rundir.paths import RunPaths


@dataclass(frozen=True)
class Normalizer:
    """Training statistics, saved as normalizer.json and baked into the exported models."""

    features: list[str]
    mean: list[float]
    std: list[float]
    classes: list
    train_rows: int
    test_rows: int

    @classmethod
    def load(cls, path: Path) -> "Normalizer":
        return cls(**json.loads(Path(path).read_text()))


def stratified_test_mask(labels: np.ndarray, test_fraction: float, seed: int) -> np.ndarray:
    """True for test rows: round(fraction × n) rows of each class, chosen by a seeded permutation."""
    rng = np.random.default_rng([seed, 2])
    mask = np.zeros(len(labels), dtype=bool)
    for value in (0, 1):
        rows = np.flatnonzero(labels == value)
        n_test = int(round(len(rows) * test_fraction))
        mask[rng.choice(rows, n_test, replace=False, shuffle=False)] = True  # a partial shuffle: O(n_test) draws
    return mask


def check_split(labels: np.ndarray, mask: np.ndarray, where: Path | str) -> None:
    """Each split must hold both classes, or neither training nor evaluation means anything."""
    for name, part in (("train", labels[~mask]), ("test", labels[mask])):
        counts = np.bincount(part, minlength=2)
        if counts.min() == 0:
            raise DataError(
                f"{where}: too few rows for the split: the {name} split has {counts[0]} rows of class 0 and "
                f"{counts[1]} of class 1 ({len(labels)} rows in all); add rows or change --test-fraction")


class RunningMoments:
    """Mean and variance per column in one streaming pass (Chan et al.'s parallel merge), exact to float64."""

    def __init__(self, n_columns: int) -> None:
        self.count = 0
        self.mean = np.zeros(n_columns)
        self.m2 = np.zeros(n_columns)

    def update(self, x: np.ndarray) -> None:
        if len(x) == 0:
            return
        self.merge(len(x), x.mean(axis=0), ((x - x.mean(axis=0)) ** 2).sum(axis=0))

    def merge(self, count: int, mean: np.ndarray, m2: np.ndarray) -> None:
        if count == 0:
            return
        total = self.count + count
        delta = mean - self.mean
        self.mean = self.mean + delta * count / total
        self.m2 = self.m2 + m2 + delta**2 * self.count * count / total
        self.count = total

    def std(self) -> np.ndarray:
        std = np.sqrt(self.m2 / max(self.count, 1))
        return np.where(std > 0, std, 1.0)  # a constant column becomes 0 after centring, never a division by zero


def _column(batch: pa.RecordBatch, name: str) -> np.ndarray:
    return batch.column(name).to_numpy(zero_copy_only=False).astype(np.float64, copy=False)


def _column_moments(columns: list[np.ndarray]) -> tuple[int, np.ndarray, np.ndarray]:
    """Count, means and sums of squared deviations of equal-length columns (one dot product each, no copies)."""
    means = np.array([column.mean() if len(column) else 0.0 for column in columns])
    m2 = np.array([float(np.dot(column - mean, column - mean)) for column, mean in zip(columns, means)])
    return (len(columns[0]) if columns else 0), means, m2


def _group_moments(path: Path, group: int, features: list[str], keep: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    batch = pq.ParquetFile(path).read_row_group(group, columns=features)
    return _column_moments([_column(batch, name)[keep] for name in features])


def fit_normalizer(raw: Path, test_fraction: float, seed: int) -> tuple[Normalizer, np.ndarray]:
    """Split the rows and fit the statistics on the train rows only; return the normalizer and the test mask."""
    file = pq.ParquetFile(raw)
    features = raw_features(file.schema_arrow)
    classes = json.loads(file.schema_arrow.metadata[CLASSES_KEY])
    labels = file.read(columns=[LABEL]).column(LABEL).to_numpy()
    mask = stratified_test_mask(labels, test_fraction, seed)
    check_split(labels, mask, file.schema_arrow.metadata.get(SOURCE_KEY, str(raw).encode()).decode())
    moments = RunningMoments(len(features))
    offsets = np.cumsum([0] + [file.metadata.row_group(g).num_rows for g in range(file.num_row_groups)])
    # Python threads over row groups were 2.5x slower here (Arrow's and BLAS's own threads oversubscribe two cores).
    for group in range(file.num_row_groups):
        moments.merge(*_group_moments(raw, group, features, ~mask[offsets[group]:offsets[group + 1]]))
    normalizer = Normalizer(features, moments.mean.tolist(), moments.std().tolist(), classes,
                            int((~mask).sum()), int(mask.sum()))
    return normalizer, mask


def write_splits(raw: Path, paths: RunPaths, normalizer: Normalizer, mask: np.ndarray) -> None:
    """Write the normalized train and test splits, and the raw test split that the exported models take (with the
    passthrough columns of raw.parquet, ids, dates and text, so predictions can be joined back to the input)."""
    features = normalizer.features
    schema = pa.schema([*(pa.field(n, pa.float32()) for n in features), pa.field(LABEL, pa.int8())])
    raw_schema = pq.read_schema(raw).remove_metadata()
    mean, std = np.asarray(normalizer.mean), np.asarray(normalizer.std)
    with ParquetSink(paths.normalized("train"), schema) as train, ParquetSink(paths.normalized("test"), schema) as test, \
            ParquetSink(paths.test_raw, raw_schema) as test_raw:
        start = 0
        for batch in iter_batches(raw):
            rows = pa.array(mask[start:start + batch.num_rows])
            start += batch.num_rows
            # column by column: contiguous arrays, no rows × columns copy of the batch
            scaled = [standardize(_column(batch, name), mean[j], std[j]).astype(np.float32) for j, name in enumerate(features)]
            table = pa.RecordBatch.from_arrays([*scaled, batch.column(LABEL)], schema=schema)
            train.write(table.filter(pc.invert(rows)))
            test.write(table.filter(rows))
            test_raw.write(batch.filter(rows))


def normalize_to(run_dir: Path, test_fraction: float, seed: int) -> dict:
    """Stage logic: split, fit on train, write both normalized splits and normalizer.json."""
    started = time.perf_counter()
    paths = RunPaths.of(run_dir)
    normalizer, mask = fit_normalizer(paths.raw, test_fraction, seed)
    write_splits(paths.raw, paths, normalizer, mask)
    write_json(paths.normalizer, asdict(normalizer))
    seconds = time.perf_counter() - started
    rows = len(mask)
    return {"normalizer": paths.rel(paths.normalizer), "train": paths.rel(paths.normalized("train")),
            "test": paths.rel(paths.normalized("test")), "test_raw": paths.rel(paths.test_raw), "train_rows": normalizer.train_rows, "test_rows": normalizer.test_rows,
            "seconds": seconds, "rows_per_second": rows / max(seconds, 1e-9)}

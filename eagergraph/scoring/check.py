"""The scoring flow's data check: each block of the new data, as it is read for scoring, checked value by value
against its feature's kind, and its distribution counted against the model's training profile for the same PSI and
categorical rules as check-data (`eagergraph.registry.drift`). No TensorFlow here."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from eagergraph.core.serving_inputs import CATEGORICAL, ModelInputs, NotANumber, serving_columns
from eagergraph.data.cells import canonical_text
from eagergraph.data.io import in_blocks
from eagergraph.errors import DataError
from eagergraph.io import read_json
from eagergraph.registry import drift
from eagergraph.registry.drift import bin_counts

# Numeric rows binned per block: a systematic sample (every k-th row of a full block of 65,536 rows, every row of a
# small file). PSI's sampling error is about (bins - 1) / rows binned, under 0.001 from one block on; binning every
# row cost a quarter of the check's time.
BINNED_PER_BLOCK = 8192


class ProfileCounts:
    """The new data's profile in the form `drift.check` compares: numeric rows binned on the reference's own
    edges (a systematic sample of every block, `BINNED_PER_BLOCK`), categorical values counted (every row), missing
    cells apart."""

    def __init__(self, reference: dict | None, inputs: ModelInputs) -> None:
        self.inputs = inputs
        sketches = (reference or {}).get("sketch", {})
        self.edges = {name: np.asarray(sketches[name]["edges"]) for name in inputs.features if name in sketches}
        self.binned = {name: np.zeros(len(edges) + 1, dtype=np.int64) for name, edges in self.edges.items()}
        self.categories: dict[str, Counter[str]] = {name: Counter() for name in inputs.features
                                                    if inputs.kinds[name] == CATEGORICAL}
        self.missing: Counter[str] = Counter()
        self.rows = 0

    def add(self, columns: dict[str, np.ndarray]) -> None:
        """One block's feature columns as `serving_columns` gives them (NaN and "" for missing)."""
        for name, values in columns.items():
            if name in self.categories:  # counted in Arrow (a hash per value; np.unique sorted the strings: 3x slower)
                counted = {item["values"]: item["counts"]
                           for item in pc.value_counts(pa.array(values, type=pa.string())).to_pylist()}
                self.missing[name] += counted.pop("", 0)
                self.categories[name].update(counted)
            elif name in self.edges:
                sampled = values[::max(1, len(values) // BINNED_PER_BLOCK)]
                self.binned[name] += bin_counts(sampled[~np.isnan(sampled)], self.edges[name])
        self.rows += len(next(iter(columns.values()), []))

    def profile(self, reference: dict) -> dict:
        """The new data as a profile of the reference's schema (missing columns were refused before, extra ones are
        not features): what `drift.check` reads."""
        return {**{key: reference.get(key) for key in ("features", "kinds", "types", "classes")}, "sketch": {},
                "binned": {name: counts.tolist() for name, counts in self.binned.items()},
                "categories": {name: {"counts": dict(counts), "missing": self.missing[name]}
                               for name, counts in self.categories.items()}}


def reference_profile(planned: dict) -> dict | None:
    """The model's training profile (its run's data_profile.json), None for a model made before data checks."""
    return read_json(Path(planned["profile"])) if planned["profile"] else None


def bad_row(table: pa.Table, error: NotANumber) -> int:
    """The block's first row (0-based) holding the value `serving_columns` refused."""
    text = canonical_text(table.column(error.column))
    return int(pc.index(text, pa.scalar(error.value, text.type)).as_py())


def check_block(block: pa.Table, inputs: ModelInputs, source: Path, counts: ProfileCounts) -> dict[str, np.ndarray]:
    """One block's feature columns as the model takes them (`serving_columns`), counted into `counts`; a value that
    cannot be its feature's kind is a DataError naming the column, the value and its row (1 = the first data row)."""
    try:
        columns = serving_columns(block, inputs, str(source))
    except NotANumber as error:
        row = counts.rows + bad_row(block, error) + 1
        raise DataError(f"{source}: column {error.column} holds {error.value!r} in row {row}; the model takes a "
                        "number there") from None
    counts.add(columns)
    return columns


def check_file(batches: object, inputs: ModelInputs, source: Path, counts: ProfileCounts) -> None:
    """Read one input's blocks into `counts` (`check_block`), predicting nothing."""
    for block in in_blocks(batches):  # type: ignore[arg-type]
        check_block(block, inputs, source, counts)


def drift_report(reference: dict | None, counts: ProfileCounts, threshold: float, model_run: str) -> dict:
    """The drift report of the new data against the model's training profile, and its one line (`drift.summary`),
    under `line`. Without a profile (a model made before data checks) the status is `no-reference`."""
    if reference is None:
        report = drift.check(None, {}, threshold, model_run)
    else:
        report = drift.check(reference, counts.profile(reference), threshold, model_run)
    report["rows"] = counts.rows
    return {**report, "line": drift.summary(report).replace("production run", "the model's training run")}


def drifted(report: dict) -> bool:
    """Whether the new data drifted from the model's training data (a warning, or an error with --fail-on-drift)."""
    return report["status"] == "drift"

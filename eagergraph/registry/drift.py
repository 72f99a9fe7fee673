"""Data checks before training: the train split's profile (schema, label classes, a per-feature sketch) and its
drift against the production run's profile, as the population stability index (PSI).

Every run keeps its profile (`data_profile.json`): the decile edges of each feature and the train rows per bin,
in raw feature space. A later run bins its own train values on production's edges, so production's raw data is
never read again.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

BINS = 10  # deciles: PSI's usual resolution
EPSILON = 1e-4  # share given to an empty bin, so PSI stays finite (the usual convention)


def sketch(values: np.ndarray, bins: int = BINS) -> dict:
    """Quantile bin edges of one feature and the rows in each bin, plus its moments and range."""
    values = np.asarray(values, dtype=np.float64)
    edges = np.unique(np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1])) if len(values) else np.array([])
    return {"edges": edges.tolist(), "counts": bin_counts(values, edges).tolist(), "mean": float(values.mean()),
            "std": float(values.std()), "min": float(values.min()), "max": float(values.max())}


def bin_counts(values: np.ndarray, edges: np.ndarray | list[float]) -> np.ndarray:
    """Rows per bin: (-inf, e0), [e0, e1), ..., [e_last, inf)."""
    edges = np.asarray(edges, dtype=np.float64)
    return np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1)


def psi(reference: np.ndarray | list[int], current: np.ndarray | list[int]) -> float:
    """Population stability index of two histograms over the same bins: Σ (c − r) · ln(c / r) on shares."""
    r = np.asarray(reference, dtype=np.float64)
    c = np.asarray(current, dtype=np.float64)
    r = np.clip(r / max(r.sum(), 1.0), EPSILON, None)
    c = np.clip(c / max(c.sum(), 1.0), EPSILON, None)
    return float(np.sum((c - r) * np.log(c / r)))


def schema_differences(reference: dict, current: dict) -> list[str]:
    """What differs between two profiles' schemas, each named: missing or new feature columns, types, classes."""
    problems = []
    missing = [name for name in reference["features"] if name not in current["features"]]
    new = [name for name in current["features"] if name not in reference["features"]]
    if missing:
        problems.append(f"missing feature column(s) {', '.join(missing)}")
    if new:
        problems.append(f"new feature column(s) {', '.join(new)}")
    if not missing and not new and reference["features"] != current["features"]:
        problems.append("feature columns in another order")
    types = [f"{name} {reference['types'][name]} → {current['types'][name]}" for name in reference["features"]
             if name in current["features"] and reference["types"].get(name) != current["types"].get(name)]
    if types:
        problems.append(f"changed type(s) {', '.join(types)}")
    if [str(v) for v in reference["classes"]] != [str(v) for v in current["classes"]]:
        problems.append(f"label classes {reference['classes']} → {current['classes']}")
    return problems


def compare(reference: dict | None, current: dict, columns: dict[str, np.ndarray], threshold: float,
            reference_run: str | None = None) -> dict:
    """The data check of a run: schema differences and each shared feature's PSI against the reference profile.

    `columns` holds the current train split's raw values per feature. `status` is `no-reference` (first run),
    `ok`, `drift` (some PSI above the threshold) or `schema` (columns, types or classes differ).
    """
    report = {"reference_run": reference_run, "threshold": threshold, "schema": [], "psi": {}, "drifted": []}
    if reference is None:
        return {**report, "status": "no-reference"}
    report["schema"] = schema_differences(reference, current)
    for name in current["features"]:
        if name in reference["features"] and name in reference.get("sketch", {}):
            ref = reference["sketch"][name]
            report["psi"][name] = round(psi(ref["counts"], bin_counts(columns[name], ref["edges"])), 6)
    report["drifted"] = [name for name, value in report["psi"].items() if value > threshold]
    report["status"] = "schema" if report["schema"] else "drift" if report["drifted"] else "ok"
    return report


def summary(report: dict) -> str:
    """One line for the terminal, the log and the error of --fail-on-drift; drifted features named with their PSI."""
    against = f"production run {report['reference_run']}"
    if report["status"] == "no-reference":
        if report["reference_run"]:
            return f"data check: {against} keeps no data profile (made before data checks), nothing to compare with"
        return "data check: no production model yet, nothing to compare with"
    parts = []
    if report["schema"]:
        parts.append(f"schema differs from {against}: {'; '.join(report['schema'])}")
    if report["drifted"]:
        named = ", ".join(f"{name} (PSI {report['psi'][name]:.2f})" for name in report["drifted"])
        parts.append(f"drift against {against} in {named} (threshold {report['threshold']:g})")
    if not parts:
        top = max(report["psi"].values(), default=0.0)
        return f"data check: same schema as {against}, no feature drifted (max PSI {top:.3f} ≤ {report['threshold']:g})"
    return "; ".join(parts)


# ---------------------------------------------------------------- the run directory's files


def train_columns(run_dir: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """The run's schema (raw.parquet's feature types, label classes) and its train split in raw feature space.

    The normalized train split is undone with the run's own statistics (normalizer.json), so no stage has to
    write the raw train split a second time.
    """
    import pyarrow.parquet as pq

    from eagergraph.data.normalize import Normalizer
    from eagergraph.rundir.paths import RunPaths

    paths = RunPaths.of(run_dir)
    normalizer = Normalizer.load(paths.normalizer)
    schema = pq.read_schema(paths.raw)
    table = pq.read_table(paths.normalized("train"), columns=normalizer.features)
    columns = {name: table.column(name).to_numpy().astype(np.float64) * std + mean
               for name, mean, std in zip(normalizer.features, normalizer.mean, normalizer.std)}
    header = {"features": normalizer.features, "types": {name: str(schema.field(name).type) for name in normalizer.features},
              "classes": normalizer.classes, "rows": normalizer.train_rows}
    return header, columns


def profile(header: dict, columns: dict[str, np.ndarray]) -> dict:
    """The profile a run keeps for later runs: its schema plus one sketch per feature."""
    return {**header, "sketch": {name: sketch(values) for name, values in columns.items()}}

"""Data checks before training: the train split's profile (schema, column kinds, label classes, a per-feature
sketch) against the production run's profile, as the population stability index (PSI).

Every run keeps its profile (`data_profile.json`, written by normalize while it holds the train rows, see
`eagergraph.data.profile`): per numeric feature the decile edges, rows per bin and a bounded sample of train values
in raw feature space; per categorical feature its category counts. A later run bins its own sample on production's
edges, and compares category shares, so neither run's data is read again.
"""

from __future__ import annotations

import numpy as np

from eagergraph.data.profile import BINS, SAMPLE, bin_counts, sketch  # noqa: F401  (the profile's own definitions)

EPSILON = 1e-4  # share given to an empty bin, so PSI stays finite (the usual convention)


def psi(reference: np.ndarray | list[int], current: np.ndarray | list[int]) -> float:
    """Population stability index of two histograms over the same bins: Σ (c − r) · ln(c / r) on shares."""
    r = np.asarray(reference, dtype=np.float64)
    c = np.asarray(current, dtype=np.float64)
    r = np.clip(r / max(r.sum(), 1.0), EPSILON, None)
    c = np.clip(c / max(c.sum(), 1.0), EPSILON, None)
    return float(np.sum((c - r) * np.log(c / r)))


def kinds(profile: dict) -> dict[str, str]:
    """Each feature's kind; profiles made before categorical columns hold numeric features only."""
    return profile.get("kinds") or {name: "numeric" for name in profile["features"]}


def schema_differences(reference: dict, current: dict) -> list[str]:
    """What differs between two profiles' schemas, each named: missing or new feature columns, kinds, types, classes."""
    problems = []
    missing = [name for name in reference["features"] if name not in current["features"]]
    new = [name for name in current["features"] if name not in reference["features"]]
    if missing:
        problems.append(f"missing feature column(s) {', '.join(missing)}")
    if new:
        problems.append(f"new feature column(s) {', '.join(new)}")
    if not missing and not new and reference["features"] != current["features"]:
        problems.append("feature columns in another order")
    shared = [name for name in reference["features"] if name in current["features"]]
    ref_kinds, cur_kinds = kinds(reference), kinds(current)
    changed = [f"{name} {ref_kinds[name]} → {cur_kinds[name]}" for name in shared if ref_kinds[name] != cur_kinds[name]]
    if changed:
        problems.append(f"changed kind(s) {', '.join(changed)}")
    types = [f"{name} {reference['types'][name]} → {current['types'][name]}" for name in shared
             if ref_kinds[name] == cur_kinds[name] and reference["types"].get(name) != current["types"].get(name)]
    if types:
        problems.append(f"changed type(s) {', '.join(types)}")
    if [str(v) for v in reference["classes"]] != [str(v) for v in current["classes"]]:
        problems.append(f"label classes {reference['classes']} → {current['classes']}")
    return problems


def category_shares(reference: dict, current: dict) -> tuple[list[int], list[int], list[tuple[str, float]]]:
    """Two categorical columns' counts over the same slots (the reference's categories, then every new one, then
    missing cells), and the new categories with their share of the current rows."""
    ref, cur = reference["counts"], current["counts"]
    new = sorted((value for value in cur if value not in ref), key=lambda v: (-cur[v], v))
    slots = [*ref, *new]
    rows = sum(cur.values()) + current.get("missing", 0)
    shares = [(value, cur[value] / max(rows, 1)) for value in new]
    return ([ref.get(v, 0) for v in slots] + [reference.get("missing", 0)],
            [cur.get(v, 0) for v in slots] + [current.get("missing", 0)], shares)


def check(reference: dict | None, current: dict, threshold: float, reference_run: str | None = None) -> dict:
    """The data check of a run: schema differences, each shared feature's PSI against the reference profile, and
    new categories. A numeric feature's current rows are the profile's sample binned on the reference's edges, or
    its `binned` counts on those edges when given (scoring counts every row). `status` is `no-reference` (first
    run), `ok`, `drift` (some PSI above the threshold) or `schema` (columns, kinds, types or classes differ)."""
    report = {"reference_run": reference_run, "threshold": threshold, "schema": [], "psi": {}, "drifted": [],
              "new_values": {}}
    if reference is None:
        return {**report, "status": "no-reference"}
    report["schema"] = schema_differences(reference, current)
    ref_kinds, cur_kinds = kinds(reference), kinds(current)
    for name in current["features"]:
        if name not in reference["features"] or ref_kinds[name] != cur_kinds[name]:
            continue
        if cur_kinds[name] == "numeric" and name in reference.get("sketch", {}):
            ref = reference["sketch"][name]
            counts = current.get("binned", {}).get(name)  # already counted on the reference's edges (scoring)
            if counts is None:
                counts = bin_counts(np.asarray(current["sketch"][name].get("sample", []), dtype=np.float64), ref["edges"])
            report["psi"][name] = round(psi(ref["counts"], counts), 6)
        elif cur_kinds[name] == "categorical" and name in reference.get("categories", {}):
            ref_counts, cur_counts, new = category_shares(reference["categories"][name], current["categories"][name])
            report["psi"][name] = round(psi(ref_counts, cur_counts), 6)
            if new:
                report["new_values"][name] = [[value, round(share, 6)] for value, share in new]
    report["drifted"] = [name for name, value in report["psi"].items() if value > threshold]
    report["status"] = "schema" if report["schema"] else "drift" if report["drifted"] else "ok"
    return report


def new_values_line(report: dict) -> str:
    """New categories named with their share of rows: "contract: new value 'Two weeks' in 3.1 % of rows"."""
    parts = []
    for name, values in report.get("new_values", {}).items():
        shown = ", ".join(f"{value!r} in {100 * share:.1f} % of rows" for value, share in values[:3])
        more = f" (and {len(values) - 3} more)" if len(values) > 3 else ""
        parts.append(f"{name}: new value{'s' if len(values) > 1 else ''} {shown}{more}")
    return "; ".join(parts)


def summary(report: dict) -> str:
    """One line for the terminal, the log and the error of --fail-on-drift; drifted features named with their PSI,
    new categories with their share of rows."""
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
    new = new_values_line(report)
    if not parts:
        top = max(report["psi"].values(), default=0.0)
        line = f"data check: same schema as {against}, no feature drifted (max PSI {top:.3f} ≤ {report['threshold']:g})"
        return line + (f"; {new}" if new else "")
    return "; ".join(parts + ([new] if new else []))


# ---------------------------------------------------------------- the run directory's files


def profile(header: dict, columns: dict[str, np.ndarray] | None = None) -> dict:
    """The profile a run keeps for later runs. normalize builds it while it holds the rows; from a header and
    numeric values in memory (tests, small tables), the same form is built here."""
    if not columns:
        return header
    sketches = {}
    for name, values in columns.items():
        values = np.asarray(values, dtype=np.float64)
        stride = max(1, -(-len(values) // SAMPLE))
        sketches[name] = {**sketch(values), "sample": values[::stride][~np.isnan(values[::stride])].tolist()}
    return {**header, "sketch": sketches}

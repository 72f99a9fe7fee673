"""The run's manifest: config, versions, flow-run id, per-stage wall time, and every file with size and BLAKE3 digest."""

from __future__ import annotations

import platform
import resource
from importlib import metadata
from pathlib import Path
from typing import Any

from eagergraph.io import DIGEST, file_digest, write_json
from eagergraph.metrics import task_of
from eagergraph.rundir.paths import RunPaths
from eagergraph.rundir.staging import run_id_of

PACKAGES = ("eagergraph", "tensorflow", "keras", "numpy", "pyarrow", "prefect", "pydantic")


def file_inventory(root: Path) -> list[dict[str, Any]]:
    """Every file under the run directory (SavedModel files included), relative path, size and digest (its key
    names the hash, `DIGEST`). The run's files are final by now: a digest the cache took is reused, and the
    registry reuses the ones taken here."""
    return [{"path": str(p.relative_to(root)), "bytes": p.stat().st_size, DIGEST: file_digest(p, final=True)}
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != RunPaths.of(root).manifest.name]


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def peak_memory_bytes() -> int:
    """Peak resident memory of this process so far (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def manifest_fields(config: dict, flow_run_id: str, seconds: dict[str, float], raw: dict, split: dict,
                    feats: dict) -> dict:
    """What every flow's manifest.json records about the config, the data stages and the process."""
    return dict(config=config, flow_run_id=flow_run_id, stage_seconds=seconds,
                features=raw["features"], classes=raw["classes"], positive_class=raw["positive_class"],
                task=task_of(raw), left_out=raw["left_out"], passthrough=raw["passthrough"],
                rows={"raw": raw["rows"], **split_rows(split), "dropped": raw["dropped_rows"]},
                split={"by": split.get("split_by"), "key": split.get("split_key")},
                rows_per_second={"ingest": raw["rows_per_second"], "normalize": split["rows_per_second"],
                                 "engineer-features": feats["rows_per_second"]},
                peak_memory_bytes=peak_memory_bytes(), partitions=raw.get("partitions", []))


def split_rows(split: dict) -> dict:
    """Rows per split, from normalize's result (validation: 0 for a result cached before it existed)."""
    return {"train": split["train_rows"], "validation": split.get("validation_rows", 0), "test": split["test_rows"]}


def data_summary(raw: dict, split: dict | None = None) -> dict:
    """What a run tells the user about their data: features used (which are categorical, with their number of values),
    columns left out and why, missing values and their imputation, classes, dropped rows, rows per split."""
    rows = {"rows": split_rows(split)} if split else {}
    return {**rows, "source": raw.get("source"), "features": raw["features"], "categorical": raw.get("categorical", []),
            "distinct": raw.get("distinct", {}), "missing_values": raw.get("missing_values", {}),
            "impute": raw.get("impute", "none"), "left_out": raw["left_out"],
            "passthrough": raw["passthrough"], "classes": raw["classes"], "positive_class": raw["positive_class"],
            "task": task_of(raw), "task_reason": raw.get("task_reason"), "dropped_rows": raw["dropped_rows"], "invalid_values": raw.get("invalid_values", {})}


def write_manifest(run_dir: Path, **fields: Any) -> Path:
    """Write manifest.json from the given fields plus versions and the file inventory. The run is still staged
    under its temporary name when this runs: the manifest records the id it will have once in place."""
    paths = RunPaths.of(run_dir)
    return write_json(paths.manifest, {**fields, "run_id": run_id_of(paths.root), "packages": package_versions(),
                                       "files": file_inventory(paths.root)})

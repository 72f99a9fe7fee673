"""Every file of a run, derived from its run directory in one place."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RunPaths:
    """The layout of `artifacts/<run-id>/`; stages receive the run directory and ask this class for their files."""

    root: Path

    @classmethod
    def of(cls, run_dir: str | Path) -> "RunPaths":
        return cls(Path(run_dir))

    @property
    def raw(self) -> Path:
        return self.root / "raw.parquet"

    def raw_part(self, index: int) -> Path:
        """One input partition, cleaned and split, until the partitions are merged into raw.parquet."""
        return self.root / "raw-parts" / f"part-{index:05d}.parquet"

    @property
    def normalizer(self) -> Path:
        return self.root / "normalizer.json"

    def normalized(self, split: str) -> Path:
        return self.root / "normalized" / f"{split}.parquet"

    @property
    def test_raw(self) -> Path:
        """The test split in raw feature space: what the exported models (and users) feed in."""
        return self.root / "normalized" / "test_raw.parquet"

    def features(self, split: str) -> Path:
        return self.root / "features" / f"{split}.parquet"

    def model(self, mode: str) -> Path:
        return self.root / "models" / mode

    def history(self, mode: str) -> Path:
        return self.root / "models" / f"{mode}_history.json"

    def weights(self, mode: str) -> Path:
        return self.root / "models" / f"{mode}_weights.npz"

    def candidate(self, name: str) -> "RunPaths":
        """A sweep candidate's own files (models/graph, its history and weights), laid out like a run's."""
        return RunPaths(self.root / "sweep" / name)

    @property
    def sweep_ranking(self) -> Path:
        return self.root / "sweep" / "ranking.json"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.json"

    @property
    def predictions(self) -> Path:
        return self.root / "predictions.parquet"

    @property
    def prediction_row(self) -> Path:
        return self.root / "prediction_row.json"

    @property
    def manifest(self) -> Path:
        return self.root / "manifest.json"

    def tensorboard(self, mode: str | None = None) -> Path:
        """TensorBoard event logs; one sibling folder per mode, so `tensorboard --logdir` overlays them."""
        return self.root / "tensorboard" / mode if mode else self.root / "tensorboard"

    @property
    def training_curves(self) -> Path:
        return self.root / "training_curves.png"


CACHE_DIR = ".cache"  # under the artifacts folder: cached stage files, addressed by content


def cache_object(artifacts: Path, sha256: str) -> Path:
    """Where the cache keeps a file whose content hashes to `sha256` (git-style fan-out by the first two digits)."""
    return Path(artifacts) / CACHE_DIR / "objects" / sha256[:2] / sha256


TMP_PREFIX = ".tmp-"  # a run in progress; never listed among completed runs
LATEST = "latest"  # a symlink to the last complete run


def new_run_id() -> str:
    """Unique and sortable by time: UTC timestamp to the microsecond plus a random suffix."""
    import secrets
    from datetime import datetime, timezone

    return f"{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%S%fZ')}-{secrets.token_hex(3)}"


def completed_runs(artifacts: Path) -> list[Path]:
    """Completed run directories under `artifacts`, oldest first."""
    if not artifacts.is_dir():
        return []
    return sorted(p for p in artifacts.iterdir() if p.is_dir() and not p.is_symlink() and not p.name.startswith((".", LATEST)))


def _point_latest(artifacts: Path, run_dir: Path) -> None:
    link = artifacts / LATEST
    staging = artifacts / f"{TMP_PREFIX}{LATEST}-{run_dir.name}"
    staging.symlink_to(run_dir.name)
    staging.replace(link)  # atomic: readers see the old run or the new one, never neither


class StagedRun:
    """A run directory written under a temporary name and moved into place only when the run completes.

    A failed or interrupted run leaves nothing among completed runs and never touches earlier ones.
    """

    def __init__(self, artifacts: Path) -> None:
        self.artifacts = Path(artifacts)
        self.run_id = new_run_id()
        self.work = self.artifacts / f"{TMP_PREFIX}{self.run_id}"
        self.final = self.artifacts / self.run_id

    def __enter__(self) -> "StagedRun":
        self.work.mkdir(parents=True)
        return self

    def __exit__(self, kind: type | None, error: BaseException | None, traceback: object) -> None:
        import shutil

        if kind is not None:
            shutil.rmtree(self.work, ignore_errors=True)
            return
        self.work.rename(self.final)
        _point_latest(self.artifacts, self.final)

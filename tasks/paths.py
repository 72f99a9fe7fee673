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

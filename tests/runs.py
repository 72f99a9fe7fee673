"""The data stages run on a run directory's layout, as the tasks call them (for tests of the stages' logic)."""

from __future__ import annotations

from pathlib import Path

from eagergraph.data.features import engineer_to
from eagergraph.data.normalize import SplitFiles, normalize_to
from eagergraph.data.split import SPLITS
from eagergraph.rundir.paths import RunPaths


def split_files(run: Path) -> SplitFiles:
    paths = RunPaths.of(run)
    return SplitFiles(paths.normalizer, paths.normalized("train"), paths.normalized("validation"), paths.normalized("test"),
                      paths.test_raw, paths.data_profile)


def normalize_run(run: Path, test_fraction: float, seed: int, validation_fraction: float = 0.1) -> dict:
    return normalize_to(RunPaths.of(run).raw, split_files(run), test_fraction, validation_fraction, seed)


def engineer_run(run: Path) -> dict:
    paths = RunPaths.of(run)
    return engineer_to(paths.normalizer, {split: (paths.normalized(split), paths.features(split)) for split in SPLITS})

"""Every file of a run, derived from its run directory in one place; the artifacts folder's layout around the runs
(the cache, the production folder, the scoring files). A run in progress and its locks: staging.py."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from eagergraph.errors import DataError
from eagergraph.rundir.staging import RUN_ID_PATTERN
from eagergraph.rundir.staging import StagedRun as StagedRun  # orchestration/pipeline.py imports it from here


@dataclass(frozen=True)
class RunPaths:
    """The layout of `artifacts/<run-id>/`; stages receive the run directory and ask this class for their files."""

    root: Path

    @classmethod
    def of(cls, run_dir: str | Path) -> "RunPaths":
        return cls(Path(run_dir))

    @property
    def data_profile(self) -> Path:
        """Per-feature statistics of the train split in raw feature space, which later runs' drift check reads."""
        return self.root / "data_profile.json"

    def rel(self, path: Path) -> str:
        """A path inside the run directory as stage results carry it: relative, so a result stays true wherever
        the run directory is (renamed into place, or a cached result reused by a later run)."""
        return str(Path(path).relative_to(self.root))

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

    @property
    def served_model(self) -> Path | None:
        """The SavedModel a run serves: its graph model, else its eager one (a run that trained one mode); None
        when it holds neither."""
        for mode in ("graph", "eager"):
            if (self.model(mode) / "saved_model.pb").is_file():
                return self.model(mode)
        return None

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


def resolve_model(path: Path) -> Path:
    """The SavedModel meant by a path: the path itself, or a run directory's served model (graph, else eager).
    The one served-model lookup (`predict`, the gate, `serve`); a DataError names what is wrong with the path."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    if not os.access(path, os.R_OK | (os.X_OK if path.is_dir() else 0)):
        raise DataError(f"{path}: permission denied (not readable)")
    if (path / "saved_model.pb").is_file():
        return path
    if path.is_dir() and path.resolve().name == PRODUCTIONS:
        return resolve_model(_only_model(path))
    served = RunPaths.of(path).served_model
    if served is not None:
        return served
    raise DataError(f"{path}: not a SavedModel directory (no saved_model.pb) nor a run directory with models/graph")


def cache_object(artifacts: Path, digest: str) -> Path:
    """Where the cache keeps a file whose content hashes to `digest` (git-style fan-out by the first two digits)."""
    return Path(artifacts) / CACHE_DIR / "objects" / digest[:2] / digest


def cache_state(artifacts: Path) -> Path:
    """The cache's state file: the digests of files it has hashed, by file identity (see eagergraph.io)."""
    return Path(artifacts) / CACHE_DIR / "state.json"


MODEL_INFO = "eagergraph.json"  # feature names and label classes, stored beside the SavedModel's graph


def model_info_file(model: Path) -> Path:
    """Where a SavedModel keeps eagergraph's description of its inputs: TF Serving's place for extra files."""
    return Path(model) / "assets.extra" / MODEL_INFO


PRODUCTION = "production"  # the production models: `production/<model-name>` links to each one's promoted run
PRODUCTIONS = ".production"  # the folder `production` links to (a link moves atomically, a folder cannot)
REGISTRY = "registry.jsonl"  # every promotion, refusal and rollback, one JSON object a line, append-only
REGISTRY_LOCK = ".registry.lock"  # serializes registry appends, production moves and gc across processes


def is_run_dir(path: Path) -> bool:
    """A completed run directory: named with a run id, holding its manifest. Anything else in an artifacts folder
    (a nested artifacts folder such as `artifacts/messy`, the production links, the cache) is not a run."""
    return (RUN_ID_PATTERN.fullmatch(path.name) is not None and path.is_dir() and not path.is_symlink()
            and RunPaths.of(path).manifest.is_file())


def completed_runs(artifacts: Path) -> list[Path]:
    """Completed run directories under `artifacts`, oldest first."""
    if not artifacts.is_dir():
        return []
    return sorted(p for p in artifacts.iterdir() if is_run_dir(p))


# ---------------------------------------------------------------- the production folder


def production_names(folder: Path) -> list[str]:
    """The model names that have a production link in a `production` folder, sorted."""
    return sorted(p.name for p in Path(folder).iterdir() if p.is_symlink() and not p.name.startswith("."))


def _only_model(folder: Path) -> Path:
    """`predict artifacts/production`: the production run when the folder holds exactly one model."""
    names = production_names(folder)
    if len(names) != 1:
        listed = ", ".join(names) or "none"
        raise DataError(f"{folder}: holds {len(names)} production models ({listed}); name one: {folder}/NAME")
    return Path(folder) / names[0]


# ---------------------------------------------------------------- the scoring flow's files

SCORING_LOG = "scoring.jsonl"  # in the artifacts folder: one JSON object per scoring run, append-only
PREDICTIONS_SUFFIX = ".predictions.parquet"
SCORED_MANIFEST_SUFFIX = ".predictions.json"


@dataclass(frozen=True)
class ScoringPaths:
    """The layout of a scoring output folder: per scored input `<stem>.predictions.parquet` (the input's columns and
    the predictions, lineage in its metadata) and `<stem>.predictions.json` beside it (the same lineage, the drift
    report and the counts)."""

    root: Path

    def predictions(self, name: str) -> Path:
        """`name` is the input's name without its suffix (`scored_name`)."""
        return self.root / f"{name}{PREDICTIONS_SUFFIX}"

    def manifest(self, name: str) -> Path:
        return self.root / f"{name}{SCORED_MANIFEST_SUFFIX}"

    def staging(self) -> tuple[Path, str]:
        """Where a scoring run stages its predictions until every input has passed: a folder of its own beside the
        output folder (the same file system: one rename puts a file in place), named with this prefix."""
        return self.root.parent, f".{self.root.name}.staging-"

    def staging_init(self) -> str:
        """The prefix of a staging folder in the instant before its run locks it (`staging.lock_new`): not the
        staging prefix, so no run takes it for an abandoned staging folder meanwhile."""
        return f".{self.root.name}.staging.init-"


def scored_name(source: Path, folder: Path | None = None) -> str:
    """An input's name in the output folder: its path under the input folder (or its file name) without the suffix,
    folders joined by '-', so two partitions in different subfolders never share an output."""
    relative = Path(source).relative_to(folder) if folder is not None else Path(Path(source).name)
    return "-".join(relative.with_suffix("").parts)


def scoring_log(artifacts: Path) -> Path:
    """Where scoring runs are listed beside the training runs' registry: `artifacts/scoring.jsonl`."""
    return Path(artifacts) / SCORING_LOG

"""Every file of a run, derived from its run directory in one place."""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from eagergraph.errors import DataError, RegistryError


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


TMP_PREFIX = ".tmp-"  # a run in progress; never listed among completed runs
INIT_PREFIX = ".init-"  # a run directory in the instant before its owner locks it
LATEST = "latest"  # a symlink to the last complete run
ARTIFACTS_LOCK = ".lock"  # serializes "move into place, then point latest" across processes
INIT_GRACE_SECONDS = 60.0  # an .init- directory lives microseconds; one this old was abandoned
FLOW_RUN_FILE = "flow-run-id"  # in a temporary run directory: whose flow run it is, to mark it Crashed if abandoned
PRODUCTION = "production"  # the production models: `production/<model-name>` links to each one's promoted run
PRODUCTIONS = ".production"  # the folder `production` links to (a link moves atomically, a folder cannot)
REGISTRY = "registry.jsonl"  # every promotion, refusal and rollback, one JSON object a line, append-only
REGISTRY_LOCK = ".registry.lock"  # serializes registry appends, production moves and gc across processes


def new_run_id() -> str:
    """Unique and sortable by time: UTC timestamp to the microsecond plus a random suffix."""
    import secrets
    from datetime import datetime, timezone

    return f"{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%S%fZ')}-{secrets.token_hex(3)}"


def run_id_of(run_dir: Path) -> str:
    """The run id of a run directory, completed or still staged under its temporary name (`.tmp-<id>`)."""
    return Path(run_dir).name.removeprefix(TMP_PREFIX)


RUN_ID_PATTERN = re.compile(r"\d{8}T\d{12}Z-[0-9a-f]{6}")  # what new_run_id makes


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


@contextmanager
def _artifacts_locked(artifacts: Path) -> Iterator[None]:
    """Hold the artifacts folder's lock: one process at a time completes a run and moves `latest`."""
    fd = os.open(artifacts / ARTIFACTS_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _point_latest(artifacts: Path, run_dir: Path) -> None:
    """Called with the artifacts lock held, so a staging link seen by anyone else is abandoned."""
    link = artifacts / LATEST
    staging = artifacts / f"{TMP_PREFIX}{LATEST}-{run_dir.name}"
    staging.symlink_to(run_dir.name)
    staging.replace(link)  # atomic: readers see the old run or the new one, never neither


def _owner_alive(directory: Path) -> bool:
    """Whether a live process holds the directory's lock (the kernel drops a dead process's locks, SIGKILL too)."""
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return True  # vanished or unreadable: not ours to remove
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def abandoned_flow_runs(artifacts: Path) -> list[str]:
    """Flow-run ids recorded in temporary directories whose process is dead (read before they are removed)."""
    ids = []
    for path in sorted(Path(artifacts).glob(f"{TMP_PREFIX}*")):
        if path.is_dir() and not path.is_symlink() and not _owner_alive(path):
            try:
                ids.append((path / FLOW_RUN_FILE).read_text().strip())
            except OSError:
                continue
    return [i for i in ids if i]


def remove_abandoned(artifacts: Path) -> list[Path]:
    """Remove what killed runs left behind (SIGKILL, power loss); never a live run's directory.

    Every run holds an exclusive lock on its temporary directory for its whole life, so a temporary directory
    whose lock is free belongs to a dead process, however recent. Age decides only for the two states that
    last microseconds: an unlocked `.init-` directory and a `latest` staging link.
    """
    removed = []
    for path in sorted(artifacts.glob(f"{TMP_PREFIX}*")):
        if path.is_dir() and not path.is_symlink() and not _owner_alive(path):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    for path in artifacts.glob(f"{INIT_PREFIX}*"):
        if time.time() - path.lstat().st_mtime > INIT_GRACE_SECONDS:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    with _artifacts_locked(artifacts):
        for path in artifacts.glob(f"{TMP_PREFIX}{LATEST}-*"):
            if path.is_symlink():
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed


class StagedRun:
    """A run directory written under a temporary name and moved into place only when the run completes.

    A failed or interrupted run leaves nothing among completed runs and never touches earlier ones. The
    temporary directory is locked by its writer while it lives, which tells later runs whether a leftover
    one was abandoned by a killed process (they remove it) or is being written by a concurrent run.
    """

    def __init__(self, artifacts: Path, flow_run_id: str | None = None) -> None:
        self.artifacts = Path(artifacts)
        self.flow_run_id = flow_run_id
        self.crashed_flow_runs: list[str] = []  # flow runs of killed runs whose directories were removed
        self.run_id = new_run_id()
        self.work = self.artifacts / f"{TMP_PREFIX}{self.run_id}"
        self.final = self.artifacts / self.run_id
        self._lock: int | None = None

    def __enter__(self) -> "StagedRun":
        try:
            self.artifacts.mkdir(parents=True, exist_ok=True)
            self.crashed_flow_runs = abandoned_flow_runs(self.artifacts)
            remove_abandoned(self.artifacts)
            fresh = self.artifacts / f"{INIT_PREFIX}{self.run_id}"
            fresh.mkdir()
        except OSError as exc:
            raise RegistryError(f"--artifacts {self.artifacts}: cannot create run directories there "
                            f"({exc.strerror or exc})") from None
        self._lock = os.open(fresh, os.O_RDONLY | os.O_DIRECTORY)
        fcntl.flock(self._lock, fcntl.LOCK_EX)  # nobody else knows `fresh` yet: never waits
        if self.flow_run_id:
            (fresh / FLOW_RUN_FILE).write_text(self.flow_run_id + "\n")
        fresh.rename(self.work)  # so every `.tmp-` directory is locked from the moment it appears
        return self

    def __exit__(self, kind: type | None, error: BaseException | None, traceback: object) -> None:
        try:
            if kind is not None:
                shutil.rmtree(self.work, ignore_errors=True)
                return
            with _artifacts_locked(self.artifacts):
                self.work.rename(self.final)
                _point_latest(self.artifacts, self.final)
        finally:
            if self._lock is not None:
                os.close(self._lock)
                self._lock = None


# ---------------------------------------------------------------- model names and their production links

MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")  # a folder name on every file system (config checks it)
DEFAULT_MODEL_NAME = "synthetic"  # the model name of runs on generated data


# Parts of a file or folder name that tell exports of one table apart, not tables: dates (2026-12-06, 20261206,
# 2026_12, with a time: 2026-12-06T0630), bare numbers (sequence numbers, years: _001, -7, 2026) and partition
# words with their number (part-00001, chunk3, shard_2). Bounded by a separator or the name's ends.
_DATE = r"(?:19|20)\d{2}[-_.]?(?:0[1-9]|1[0-2])(?:[-_.]?(?:0[1-9]|[12]\d|3[01]))?(?:[tT_-]?\d{2}[-_.:]?\d{2}(?:[-_.:]?\d{2})?)?"
_EXPORT_PART = re.compile(rf"(?<![A-Za-z0-9])(?:{_DATE}|\d+|(?:part|chunk|shard)[-_]?\d*)(?![A-Za-z0-9])", re.IGNORECASE)


def _table_name(name: str) -> str:
    """A file or folder name without what tells one export of a table from the next (dates, sequence numbers,
    partition words; a `key=value` partition folder has none), separators tidied; '' when nothing else is left."""
    if "=" in name:
        return ""
    kept = _EXPORT_PART.sub("", name)
    kept = re.sub(r"([-_. ])[-_. ]+", r"\1", kept)
    return re.sub(r"[^A-Za-z0-9._-]", "-", kept).strip("._- ")[:64].strip("._-")


def model_name_choice(data: str | Path | None) -> tuple[str, str]:
    """A run's model name when none is given, and why: one name per table, not per export. The data file's stem
    (a folder's name) without dates, sequence numbers and partition words (`arrests_2026-12-06.csv` and
    `arrests_2026-12-07.csv` are both `arrests`); when nothing is left (`2026-12-06.csv`, `date=2026-12-06/`), the
    nearest folder above that names something; `synthetic` without data. Different tables that reduce to one name
    are told apart by the gate's schema check, which refuses the second and suggests --model-name."""
    if not data:
        return DEFAULT_MODEL_NAME, "synthetic data"
    path = Path(data)
    own = path.name if path.is_dir() or not path.suffix else path.stem
    for level, part in enumerate([own, *(p.name for p in list(path.absolute().parents)[:3])]):
        name = _table_name(part)
        if name:
            if level:
                return name, f"the folder above {path.name}, whose name holds no table name"
            if name == re.sub(r"[^A-Za-z0-9._-]", "-", part).strip("._-")[:64]:
                return name, f"the data {'folder' if path.is_dir() else 'file'}'s name"
            return name, f"the data {'folder' if path.is_dir() else 'file'}'s name without its dates and numbers ({part})"
    return DEFAULT_MODEL_NAME, f"no table name in {path}"


def default_model_name(data: str | Path | None) -> str:
    """A run's model name when none is given (see `model_name_choice`)."""
    return model_name_choice(data)[0]


def production_link(artifacts: Path, model_name: str) -> Path:
    """Where a model's production pointer lives: `artifacts/production/<model-name>` (a link to its run)."""
    return Path(artifacts) / PRODUCTION / model_name


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


def scored_name(source: Path, folder: Path | None = None) -> str:
    """An input's name in the output folder: its path under the input folder (or its file name) without the suffix,
    folders joined by '-', so two partitions in different subfolders never share an output."""
    relative = Path(source).relative_to(folder) if folder is not None else Path(Path(source).name)
    return "-".join(relative.with_suffix("").parts)


def scoring_log(artifacts: Path) -> Path:
    """Where scoring runs are listed beside the training runs' registry: `artifacts/scoring.jsonl`."""
    return Path(artifacts) / SCORING_LOG

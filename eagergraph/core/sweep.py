"""The sweep: one graph-mode model per grid point, scored on the validation split, ranked; the best becomes the run's
model, evaluated on the test split and gated there like a run's.

Candidates are independent, so a Dask task runner trains them side by side in separate worker processes; once all
are trained, one pass over the validation rows scores every candidate (read once, not once per candidate).
"""

from __future__ import annotations

import itertools
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from eagergraph.core.evaluation import score_blocks
from eagergraph.core.serving_inputs import read_preprocessing
from eagergraph.core.training import train_to
from eagergraph.data.normalize import Normalizer, raw_split_codes
from eagergraph.data.split import SPLITS, SplitRule
from eagergraph.errors import DataError
from eagergraph.io import write_json
from eagergraph.metrics import DEFAULT_TASK, RANK_BY, rank_key, task_of
from eagergraph.rundir.paths import RunPaths


@dataclass(frozen=True)
class Candidate:
    """One point of the grid."""

    learning_rate: float
    hidden: int
    batch_size: int
    variant: str

    @property
    def name(self) -> str:
        return f"lr{self.learning_rate:g}-h{self.hidden}-b{self.batch_size}-{self.variant}"


def grid(learning_rates: list[float], hidden: list[int], batch_sizes: list[int], variants: list[str]) -> list[Candidate]:
    """Every combination, in a fixed order (duplicates removed)."""
    points = itertools.product(*(dict.fromkeys(v) for v in (learning_rates, hidden, batch_sizes, variants)))
    return [Candidate(*point) for point in points]


def train_candidate_to(run_dir: Path, candidate: Candidate, epochs: int, seed: int, in_memory_rows: int,
                       patience: int | None = None) -> dict:
    """Train one candidate in graph mode with the training stage's own logic (export, weights and history into the
    candidate's folder); `score_candidates` scores it with the others."""
    own = RunPaths.of(run_dir).candidate(candidate.name)
    trained = train_to(run_dir, "graph", candidate.variant, epochs, candidate.batch_size, candidate.hidden,
                       candidate.learning_rate, seed, in_memory_rows=in_memory_rows, out=own, patience=patience)
    return {"name": candidate.name, **asdict(candidate), "train_seconds": trained["train_seconds"],
            "final_train_loss": trained["final_loss"], "pid": os.getpid()}


RANKING_SPLIT = "validation"  # recorded in each ranking row (`ranked_on`), so every table names it from there


def ranking_split(paths: RunPaths) -> tuple[Path, np.ndarray]:
    """The raw rows candidates are ranked on: the ONE place they are chosen. The validation split: raw.parquet's
    rows that the rule normalizer.json records drew into it (the rows each candidate stopped early on), so the
    test split stays for the best candidate's evaluation and the gate, as in a run. Returns the raw file and one
    boolean per row of it."""
    rule = Normalizer.load(paths.normalizer).split
    if rule is None:  # every normalize records its rule; a run directory without one predates the validation split
        raise DataError(f"{paths.normalizer}: no split rule recorded, so the validation rows cannot be drawn again")
    return paths.raw, raw_split_codes(paths.raw, SplitRule(**rule)) == SPLITS.index(RANKING_SPLIT)


def score_candidates(run_dir: Path, trained: list[dict]) -> list[dict]:
    """Every trained candidate's SavedModel on the ranking split (`ranking_split`), as evaluate scores a run's
    models: the rows are read once, block by block, for all of them. Returns each candidate's row with its task
    and metrics on that split."""
    paths = RunPaths.of(run_dir)
    normalizer = read_preprocessing(paths.normalizer)
    models = {r["name"]: paths.candidate(r["name"]).model("graph") for r in trained}
    raw, rows = ranking_split(paths)
    scores = score_blocks(models, raw, normalizer, keep=rows).metrics
    for scored in scores.values():
        scored.pop("confusion_matrix", None)  # a ranking row holds numbers only
    return [{**r, "task": normalizer.task, "ranked_on": RANKING_SPLIT, **scores[r["name"]]} for r in trained]


def rank(results: list[dict]) -> list[dict]:
    """Best first by the task's `RANK_BY` metrics on the ranking split (binary: higher AUC, then accuracy, then lower loss;
    regression: lower RMSE, then MAE), each in its catalogue direction (metrics.rank_key: non-finite ones last);
    the name breaks exact ties."""
    ordered = sorted(results, key=lambda r: (*rank_key(r, task_of(r)), r["name"]))
    return [{"rank": i + 1, **r} for i, r in enumerate(ordered)]


def adopt_best_candidate(run_dir: Path, ranking: list[dict]) -> dict:
    """Make the best candidate the run's graph model (SavedModel, weights, history), as a normal run has it."""
    paths = RunPaths.of(run_dir)
    best = paths.candidate(ranking[0]["name"])
    shutil.copytree(best.model("graph"), paths.model("graph"))
    shutil.copy2(best.weights("graph"), paths.weights("graph"))
    shutil.copy2(best.history("graph"), paths.history("graph"))
    write_json(paths.sweep_ranking, ranking)
    return ranking[0]


def ranking_markdown_rows(ranking: list[dict]) -> list[dict]:
    """The ranking as rows for a Prefect table artifact (rounded, without process ids)."""
    scored = RANK_BY[task_of(ranking[0]) if ranking else DEFAULT_TASK]
    keys = ("rank", "name", "learning_rate", "hidden", "batch_size", "variant", *scored, "train_seconds")
    return [{k: round(r[k], 4) if isinstance(r[k], float) else r[k] for k in keys} for r in ranking]

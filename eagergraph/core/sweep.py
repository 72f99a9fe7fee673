"""The sweep: one graph-mode model per grid point, scored on the test split, ranked; the best becomes the run's model.

Candidates are independent, so a Dask task runner trains them side by side in separate worker processes; once all
are trained, one pass over the test split scores every candidate (the split is read once, not once per candidate).
"""

from __future__ import annotations

import itertools
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from eagergraph.core.evaluation import score_blocks
from eagergraph.core.serving_inputs import read_preprocessing
from eagergraph.core.training import train_to
from eagergraph.io import write_json
from eagergraph.metrics import RANK_BY, rank_key
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


def ranking_split(paths: RunPaths) -> Path:
    """The raw split candidates are ranked on: the ONE place it is chosen. The test split until the validation
    split lands (issue 23: candidates chosen on validation, the best evaluated on test and gated there); then
    return the raw validation split here."""
    return paths.test_raw


def score_candidates(run_dir: Path, trained: list[dict]) -> list[dict]:
    """Every trained candidate's SavedModel on the ranking split (`ranking_split`), as evaluate scores a run's
    models: the split is read once, block by block, for all of them. Returns each candidate's row with its task
    and metrics on that split."""
    paths = RunPaths.of(run_dir)
    normalizer = read_preprocessing(paths.normalizer)
    models = {r["name"]: paths.candidate(r["name"]).model("graph") for r in trained}
    scores = score_blocks(models, ranking_split(paths), normalizer).metrics
    for scored in scores.values():
        scored.pop("confusion_matrix", None)  # a ranking row holds numbers only
    return [{**r, "task": normalizer.task, **scores[r["name"]]} for r in trained]


def rank(results: list[dict]) -> list[dict]:
    """Best first by the task's `RANK_BY` metrics (binary: higher test AUC, then accuracy, then lower test loss;
    regression: lower RMSE, then MAE), each in its catalogue direction (metrics.rank_key: non-finite ones last);
    the name breaks exact ties."""
    ordered = sorted(results, key=lambda r: (*rank_key(r, r.get("task", "binary")), r["name"]))
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
    scored = RANK_BY[ranking[0].get("task", "binary")] if ranking else RANK_BY["binary"]
    keys = ("rank", "name", "learning_rate", "hidden", "batch_size", "variant", *scored, "train_seconds")
    return [{k: round(r[k], 4) if isinstance(r[k], float) else r[k] for k in keys} for r in ranking]

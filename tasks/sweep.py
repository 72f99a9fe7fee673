"""sweep: the Prefect tasks over eagergraph.core.sweep."""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task
from prefect.artifacts import create_table_artifact

from eagergraph.core.sweep import (
    Candidate,
    adopt_best_candidate,
    rank,
    ranking_markdown_rows,
    score_candidates,
    train_candidate_to,
)
from eagergraph.metrics import RANK_BY
from eagergraph.reporting.artifacts import publish_ranking
from eagergraph.text import plural


@task(name="train-candidate")
def train_candidate(run_dir: str, candidate: dict, epochs: int, seed: int, in_memory_rows: int,
                    patience: int | None = None) -> dict:
    """Train one grid point (graph mode); the candidate is a plain dict so Prefect can show it."""
    point = Candidate(**candidate)
    result = train_candidate_to(Path(run_dir), point, epochs, seed, in_memory_rows, patience)
    get_run_logger().info(f"{point.name}: trained in {result['train_seconds']:.2f}s (pid {result['pid']})")
    return result


@task(name="rank-candidates")
def rank_candidates(run_dir: str, results: list[dict]) -> list[dict]:
    """Score every candidate in one pass over the validation split (`ranking_split`), rank them by those metrics,
    publish the table, adopt the best as the run's graph model (the evaluate stage then scores it on test)."""
    scored = score_candidates(Path(run_dir), results)
    logger = get_run_logger()
    for result in scored:
        shown = " ".join(f"{name} {result[name]:.4f}" for name in RANK_BY[result["task"]][:2])
        logger.info(f"{result['name']}: {result['ranked_on']} {shown}")
    ranking = rank(scored)
    adopt_best_candidate(Path(run_dir), ranking)
    first, split = RANK_BY[ranking[0]["task"]][0], ranking[0]["ranked_on"]
    create_table_artifact(ranking_markdown_rows(ranking), key="sweep-ranking",
                          description=f"eagergraph sweep: {plural(len(ranking), 'candidate')} ranked by {split} "
                                      f"{', '.join(RANK_BY[ranking[0]['task']])}")
    publish_ranking(ranking, ranking[0]["task"])  # the chart and table of the task's metrics (binary's by default)
    logger.info(f"best of {len(ranking)}: {ranking[0]['name']} ({split} {first} {ranking[0][first]:.4f})")
    return ranking

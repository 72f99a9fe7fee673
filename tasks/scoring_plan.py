"""resolve-scoring: the Prefect task over eagergraph.scoring.plan."""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task

from eagergraph.scoring.plan import plan
from eagergraph.text import plural


@task(name="resolve-scoring")
def resolve_scoring(artifacts: str, model_name: str | None, model: str | None, source: str, output: str) -> dict:
    """Resolve the model, list the inputs with their hashes, and find those the same model already scored."""
    planned = plan(Path(artifacts), model_name, Path(model) if model else None, Path(source), Path(output))
    skipped = sum(item["skip"] for item in planned["inputs"])
    get_run_logger().info(f"model {planned['model_name']} ({Path(planned['model_run']).name}); "
                          f"{plural(len(planned['inputs']), 'input')}, {skipped} already scored by this model")
    return planned

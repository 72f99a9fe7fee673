"""predict: the Prefect task over eagergraph.core.prediction."""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task

from eagergraph.core.prediction import predict_run


@task(name="predict")
def predict(run_dir: str) -> dict:
    """Predict with the graph model's SavedModel reloaded from disk."""
    result = predict_run(Path(run_dir))
    get_run_logger().info(f"1 row → [{result['example']['probability']:.2f}]; {result['rows']} test rows → predictions.parquet")
    return result

"""predict: the Prefect task over eagergraph.core.prediction."""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task

from eagergraph.core.prediction import predict_run
from eagergraph.text import plural


@task(name="predict")
def predict(run_dir: str) -> dict:
    """Predict with the graph model's SavedModel reloaded from disk."""
    result = predict_run(Path(run_dir))
    example = result["example"]
    said = (f"{example['predicted']:.4g}" if example.get("task") == "regression"
            else f"{example['probability']:.2f}, class {example['predicted']}")
    get_run_logger().info(f"first test row → {said} (true label {example['label']}); "
                          f"{plural(result['rows'], 'test row')} → predictions.parquet")
    return result

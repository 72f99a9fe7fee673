"""gate: the Prefect task over eagergraph.core.gate (scoring) and eagergraph.registry.gate (the decision)."""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task

from eagergraph.registry.gate import GateRules


@task(name="gate")
def gate(run_dir: str, final_dir: str, artifacts: str, rules: dict, data_check: dict, model_name: str,
         model_name_reason: str | None = None) -> dict:
    """Score the model's production and this run's model on this run's test split; write the verdict into
    metrics.json."""
    from eagergraph.core.gate import gate_run  # TensorFlow: imported once the data stages have passed

    metrics = gate_run(Path(run_dir), Path(final_dir), Path(artifacts), GateRules(**rules), data_check, model_name,
                       model_name_reason)
    verdict = metrics["gate"]
    get_run_logger().info(f"{'promote' if verdict['promoted'] else 'refuse'}: {verdict['reason']}")
    return metrics

"""The gate stage's logic: score production's model on this run's test split (TensorFlow), then let the
registry's pure `decide` judge the numbers, and record the verdict in metrics.json."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from eagergraph.core.evaluation import score_blocks
from eagergraph.core.prediction import model_info
from eagergraph.core.serving_inputs import read_preprocessing
from eagergraph.io import read_json, write_json
from eagergraph.registry.gate import GateRules, check_rules, decide, inputs_differ, production_after, rounded
from eagergraph.registry.registry import production_run
from eagergraph.rundir.paths import RunPaths, resolve_model


def judge_run(run_dir: Path, production_dir: Path | None, rules: GateRules, evaluated: dict[str, Any]) -> dict[str, Any]:
    """The verdict on the run's served model. Its scores are evaluate's (`evaluated`, metrics.json: the same
    SavedModel on the same raw test split); only production's model is scored here, on that split, streamed as
    evaluate streams it."""
    paths = RunPaths.of(run_dir)
    task = evaluated.get("task") or "binary"  # metrics.json before tasks: binary
    check_rules(rules, task)
    info = model_info(paths.served_model)
    candidate = rounded(evaluated[paths.served_model.name], task)
    production, why = None, None
    if production_dir is not None:
        baseline = resolve_model(production_dir)
        why = inputs_differ(info, model_info(baseline))
        if why is None:
            # production's model on this run's test split, scored for this run's task (its normalizer tells it)
            scored = score_blocks({"production": baseline}, paths.test_raw, read_preprocessing(paths.normalizer))
            production = rounded(scored.metrics["production"], task)
    verdict = decide(candidate, production, rules, why, task)
    return {**verdict, "production_run": production_dir.name if production_dir else None}


def gate_run(run_dir: Path, final_dir: Path, artifacts: Path, rules: GateRules, data_check: dict,
             model_name: str) -> dict[str, Any]:
    """Judge the run against its model's production model in the artifacts folder; metrics.json gains the model
    name, the verdict (with the production run once it is recorded) and the data check. Returns the metrics."""
    paths = RunPaths.of(run_dir)
    production = production_run(Path(artifacts), model_name)
    evaluated = read_json(paths.metrics)
    verdict = {**judge_run(Path(run_dir), production, rules, evaluated), "model_name": model_name}
    after = production_after(verdict["promoted"], Path(final_dir), production)
    verdict["production_after"] = str(after) if after else None
    metrics = {**evaluated, "model_name": model_name, "gate": verdict, "data_check": data_check}
    write_json(paths.metrics, metrics)
    return metrics

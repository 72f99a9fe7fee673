"""The gate stage's logic: score the candidate and production's model on this run's test rows (TensorFlow), then
let the registry's pure `decide` judge the numbers, and record the verdict in metrics.json."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from eagergraph.core.evaluation import _read_columns
from eagergraph.core.export import load_serving
from eagergraph.core.prediction import model_info
from eagergraph.core.serving_inputs import Preprocessing, read_preprocessing
from eagergraph.data.io import LABEL, in_blocks, iter_batches
from eagergraph.io import read_json, write_json
from eagergraph.metrics import accumulator
from eagergraph.registry.bootstrap import Interval, paired_interval, sample_rows
from eagergraph.registry.gate import GateRules, check_rules, decide, inputs_differ, production_after, rounded
from eagergraph.registry.registry import production_run
from eagergraph.rundir.paths import RunPaths, resolve_model


@dataclass(frozen=True)
class Paired:
    """Production's metrics on the candidate's test rows, and the paired bootstrap of the gate metric."""

    production: dict[str, float]
    interval: Interval


def score_paired(candidate: Path, production: Path, test_raw: Path, prep: Preprocessing, name: str,
                 seed: int) -> Paired:
    """Both models on the same raw test rows, read once in blocks: production's metrics over every row (as
    evaluate scores the candidate), and candidate − production on metric `name` with its paired bootstrap interval
    over the rows (a seeded sample of at most BOOTSTRAP_ROWS of them)."""
    task = prep.task
    mean = prep.target["mean"] if task == "regression" else 0.0
    serving = {"candidate": load_serving(candidate), "production": load_serving(production)}
    total = accumulator(task, mean if task == "regression" else None)
    keep = sample_rows(pq.ParquetFile(test_raw).metadata.num_rows, seed)
    kept: dict[str, list[np.ndarray]] = {"labels": [], "candidate": [], "production": []}
    offset = 0
    for block in in_blocks(iter_batches(test_raw, _read_columns({"c": candidate, "p": production}, test_raw))):
        labels = block.column(LABEL).to_numpy()
        outputs = {key: serve(block) for key, serve in serving.items()}
        total.update(labels, outputs["production"])
        chosen = slice(None) if keep is None else keep[(keep >= offset) & (keep < offset + len(labels))] - offset
        kept["labels"].append(labels[chosen])
        for key, output in outputs.items():
            kept[key].append(np.asarray(output)[chosen])
        offset += len(labels)
    rows = {key: np.concatenate(parts) if parts else np.empty(0) for key, parts in kept.items()}
    interval = paired_interval(task, name, rows["labels"], rows["candidate"], rows["production"], seed, mean)
    return Paired(rounded(total.result(), task), interval)


def majority_share(paths: RunPaths, task: str) -> float | None:
    """The share of the train split's most frequent class (the multiclass baseline), or None for other tasks."""
    if task != "multiclass":
        return None
    codes = pq.read_table(paths.normalized("train"), columns=[LABEL]).column(LABEL).to_numpy()
    counts = np.bincount(np.asarray(codes, dtype=np.int64))
    return float(counts.max() / counts.sum()) if counts.sum() else None


def judge_run(run_dir: Path, production_dir: Path | None, rules: GateRules, evaluated: dict[str, Any]) -> dict[str, Any]:
    """The verdict on the run's served model. Its scores are evaluate's (`evaluated`, metrics.json: the same
    SavedModel on the same raw test split); production's model is scored here on the same rows, beside it, for
    the paired bootstrap."""
    paths = RunPaths.of(run_dir)
    task = evaluated.get("task") or "binary"  # metrics.json before tasks: binary
    check_rules(rules, task)
    served = paths.served_model
    candidate = rounded(evaluated[served.name], task)
    production, schema, paired = None, None, None
    if production_dir is not None:
        baseline = resolve_model(production_dir)
        schema = inputs_differ(model_info(served), model_info(baseline))
        if schema is None:
            paired = score_paired(served, baseline, paths.test_raw, read_preprocessing(paths.normalizer),
                                  rules.metric_of(task), rules.seed)
            production = paired.production
    verdict = decide(candidate, production, rules, task, schema=schema, interval=paired.interval if paired else None,
                     majority_share=majority_share(paths, task))
    return {**verdict, "production_run": production_dir.name if production_dir else None}


def gate_run(run_dir: Path, final_dir: Path, artifacts: Path, rules: GateRules, data_check: dict,
             model_name: str, model_name_reason: str | None = None) -> dict[str, Any]:
    """Judge the run against its model's production model in the artifacts folder; metrics.json gains the model
    name, the verdict (with the production run it was judged against) and the data check. Returns the metrics."""
    paths = RunPaths.of(run_dir)
    production = production_run(Path(artifacts), model_name)
    evaluated = read_json(paths.metrics)
    verdict = {**judge_run(Path(run_dir), production, rules, evaluated), "model_name": model_name}
    after = production_after(verdict["promoted"], Path(final_dir), production)
    verdict["production_after"] = str(after) if after else None
    metrics = {**evaluated, "model_name": model_name, "model_name_reason": model_name_reason, "gate": verdict,
               "data_check": data_check}
    write_json(paths.metrics, metrics)
    return metrics

"""The gate stage's logic: score the candidate and production's model on this run's test rows (TensorFlow), then
let the registry's pure `decide` judge the numbers, and record the verdict in metrics.json."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from eagergraph.accumulators import accumulator
from eagergraph.core.evaluation import _read_columns, selected_blocks
from eagergraph.core.export import load_serving
from eagergraph.core.prediction import model_info
from eagergraph.core.serving_inputs import Preprocessing, read_preprocessing
from eagergraph.data.io import LABEL
from eagergraph.data.split import TEST, SplitRule, file_split_codes
from eagergraph.io import read_json, write_json
from eagergraph.metrics import task_of
from eagergraph.registry.bootstrap import Interval, paired_interval, sample_rows
from eagergraph.registry.gate import GateRules, SharedCount, check_rules, decide, inputs_differ, production_after, rounded
from eagergraph.registry.registry import production_run
from eagergraph.rundir.paths import RunPaths, resolve_model


@dataclass(frozen=True)
class SharedRows:
    """The rows of the candidate's raw test split the gate compares the two models on: `keep`, one boolean per row
    (None: every row), of `total` rows; `note`, why they are not narrowed to production's own test rows (None when
    they are)."""

    keep: np.ndarray | None
    total: int
    note: str | None = None

    @property
    def rows(self) -> int:
        return self.total if self.keep is None else int(self.keep.sum())


def shared_test_rows(test_raw: Path, classes: list | None, production_split: dict | None) -> SharedRows:
    """This run's test rows that production's own split rule (its normalizer.json's `split`) also put in test,
    neither in its train nor its validation split: rows neither model trained or stopped on. `classes`: this run's
    label values in code order (None for regression), so the label is hashed as the user's value, as the split does.

    Production made before the hash split recorded no rule, and one keyed by columns this run lacks cannot be
    recomputed: then every test row of this run is compared, and `note` says production may have trained on some
    (a refusal leans toward production then; a promotion does not)."""
    total = pq.ParquetFile(test_raw).metadata.num_rows
    if production_split is None:
        return SharedRows(None, total, "production recorded no split rule (a run made before the hash split), so "
                                       "it was scored on all of this run's test rows, some of which it may have trained on")
    rule = SplitRule(**production_split)
    if why := rule.recomputable_on(pq.read_schema(test_raw)):
        return SharedRows(None, total, f"{why}, so it was scored on all of this run's test rows, some of which it may "
                                       "have trained on")
    return SharedRows(file_split_codes(test_raw, rule, classes) == TEST, total)


@dataclass(frozen=True)
class Paired:
    """Both models' metrics on the shared test rows, and the paired bootstrap of the gate metric over them."""

    candidate: dict[str, float]
    production: dict[str, float]
    interval: Interval


def score_paired(candidate: Path, production: Path, test_raw: Path, prep: Preprocessing, name: str,
                 seed: int, shared: SharedRows) -> Paired:
    """Both models on the same raw test rows (`shared`: which), read once in blocks: each model's
    metrics over those rows, and candidate − production on metric `name` with its paired bootstrap interval over
    them (a seeded sample of at most BOOTSTRAP_ROWS)."""
    task = prep.task
    mean = prep.target["mean"] if task == "regression" else 0.0
    serving = {"candidate": load_serving(candidate), "production": load_serving(production)}
    totals = {key: accumulator(task, mean if task == "regression" else None) for key in serving}
    keep = sample_rows(shared.rows, seed)
    kept: dict[str, list[np.ndarray]] = {"labels": [], "candidate": [], "production": []}
    offset = 0
    for block in selected_blocks(test_raw, _read_columns({"c": candidate, "p": production}, test_raw), shared.keep):
        labels = block.column(LABEL).to_numpy()
        outputs = {key: serve(block) for key, serve in serving.items()}
        for key, output in outputs.items():
            totals[key].update(labels, output)
        chosen = slice(None) if keep is None else keep[(keep >= offset) & (keep < offset + len(labels))] - offset
        kept["labels"].append(labels[chosen])
        for key, output in outputs.items():
            kept[key].append(np.asarray(output)[chosen])
        offset += len(labels)
    rows = {key: np.concatenate(parts) if parts else np.empty(0) for key, parts in kept.items()}
    interval = paired_interval(task, name, rows["labels"], rows["candidate"], rows["production"], seed, mean)
    return Paired(rounded(totals["candidate"].result(), task), rounded(totals["production"].result(), task), interval)


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
    task = task_of(evaluated)  # metrics.json before tasks: the default
    check_rules(rules, task)
    served = paths.served_model
    candidate = rounded(evaluated[served.name], task)
    production, schema, paired, shared = None, None, None, None
    if production_dir is not None:
        baseline = resolve_model(production_dir)
        schema = inputs_differ(model_info(served), model_info(baseline))
        if schema is None:
            prep = read_preprocessing(paths.normalizer)
            shared = shared_test_rows(paths.test_raw, None if task == "regression" else list(prep.classes),
                                      production_split(production_dir))
            if shared.rows:
                paired = score_paired(served, baseline, paths.test_raw, prep, rules.metric_of(task), rules.seed, shared)
                production = paired.production
    verdict = decide(candidate, production, rules, task, schema=schema, interval=paired.interval if paired else None,
                     majority_share=majority_share(paths, task), compared=paired.candidate if paired else None,
                     shared=None if shared is None else SharedCount(shared.rows, shared.total, shared.note))
    return {**verdict, "production_run": production_dir.name if production_dir else None}


def production_split(production_dir: Path) -> dict | None:
    """The split rule production's run recorded in its normalizer.json (None: made before the hash split, or a
    bare SavedModel with no run around it)."""
    normalizer = RunPaths.of(production_dir).normalizer
    return read_json(normalizer).get("split") if normalizer.is_file() else None


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

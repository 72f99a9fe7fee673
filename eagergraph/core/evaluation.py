"""Stage 6, evaluate: both exported models on the test split, side by side, with speedup and parity."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from eagergraph.accumulators import accumulator
from eagergraph.core.export import load_serving, weights_max_abs_diff
from eagergraph.core.parity import drift_epoch, epoch_differences, load_epoch_weights, parity_note, stop_note
from eagergraph.core.serving_inputs import ModelInputs, Preprocessing, read_preprocessing
from eagergraph.data.io import LABEL, in_blocks, iter_batches
from eagergraph.io import read_json, write_json
from eagergraph.metrics import DEFAULT_TASK, positive_class
from eagergraph.modes import MODES
from eagergraph.rundir.paths import RunPaths, model_info_file


@dataclass(frozen=True)
class Scores:
    """What `score_blocks` measured: per model, its task's catalogue metrics and their bounds (`auc_max_error`);
    the rows scored; and the largest |difference| of two compared models' outputs (None when none were compared)."""

    metrics: dict[str, dict]
    rows: int
    max_abs_diff: float | None = None


def _read_columns(models: Mapping[str, Path], test_raw: Path) -> list[str]:
    """The columns of the raw test split the models take, and the label (passthrough columns stay unread)."""
    wanted = {LABEL}.union(*(ModelInputs.of(read_json(model_info_file(path))).features for path in models.values()))
    return [name for name in pq.read_schema(test_raw).names if name in wanted]


def selected_blocks(path: Path, columns: list[str], keep: np.ndarray | None = None) -> Iterator[pa.Table]:
    """A raw split's rows in blocks (`in_blocks`), only those whose entry in `keep` (one boolean per row of the
    file) is true; every row when `keep` is None. Blocks left empty are skipped."""
    offset = 0
    for block in in_blocks(iter_batches(path, columns)):
        chosen = block if keep is None else block.filter(pa.array(keep[offset:offset + block.num_rows]))
        offset += block.num_rows
        if chosen.num_rows:
            yield chosen


def score_blocks(models: Mapping[str, Path], test_raw: Path, prep: Preprocessing | None = None,
                 compare: tuple[str, str] | None = None, keep: np.ndarray | None = None) -> Scores:
    """Exported models (reloaded from disk, by name) on the raw test split, read once, in blocks of BLOCK_ROWS
    rows (`in_blocks`): every model scores each block and its output goes into its task's metric accumulator,
    so memory stays bounded in the split's rows. `prep`, the run's normalizer, tells the task (binary without it) and
    regression's training mean. `keep`: which rows of the file to score (`selected_blocks`; all when None).

    `compare`: two of the models whose largest |output difference| is kept, in the model's own units (a
    regression's standardized target, like its weights): evaluate's run parity.
    """
    serving = {name: load_serving(path) for name, path in models.items()}
    task = prep.task if prep is not None else DEFAULT_TASK
    regression = prep is not None and task == "regression"
    totals = {name: accumulator(task, prep.target["mean"] if regression else None) for name in models}
    rows, diff = 0, 0.0
    for block in selected_blocks(test_raw, _read_columns(models, test_raw), keep):
        labels = block.column(LABEL).to_numpy()
        outputs = {name: serve(block) for name, serve in serving.items()}
        for name, output in outputs.items():
            totals[name].update(labels, output)
        if compare is not None and block.num_rows:
            # np.max, not max(): a NaN output (a diverged model) must make the parity NaN, as over the whole split
            diff = float(np.max([diff, np.max(np.abs(outputs[compare[0]] - outputs[compare[1]]))]))
        rows += block.num_rows
    scale = prep.target["std"] if regression else 1.0
    return Scores({name: {**total.result(), **total.bounds()} for name, total in totals.items()}, rows,
                  diff / scale if compare is not None else None)


def compare_modes(report: dict, predictions_diff: float | None, paths: RunPaths) -> dict:
    """Speedup, step parity and run parity of eager against graph (the two figures: see core.parity).
    `predictions_diff`: the largest |eager - graph| of their test outputs (`score_blocks`'s `compare`).

    Step parity comes from the graph run (it measures it from its own state), so a graph-only run has it too.
    Speedup and run parity are null when a mode is missing, run parity null when eager was bounded: a bounded eager
    run trained on fewer steps, so its weights cannot match; its speedup uses the time extrapolated to the full
    number of steps (steady per-step time × steps, plus tracing).
    """
    step = read_json(paths.history("graph")).get("step_parity") if "graph" in report else None
    none = {"speedup": None, "steady_speedup": None, "parity_max_abs_diff": None, "weights_max_abs_diff": None,
            "parity_drift_epoch": None, "parity_epoch_max_abs_diff": None, "step_parity": step, "parity_note": None,
            "parity_stop_epochs": None}
    if not {"eager", "graph"} <= set(report):
        return none
    eager, graph = report["eager"], report["graph"]
    speed = {"speedup": eager["full_train_seconds"] / graph["train_seconds"],
             "steady_speedup": (eager["full_train_seconds"] - eager["trace_seconds"]) / graph["steady_seconds"]}
    if eager["bounded"]:
        return {**none, **speed}
    predictions = float(predictions_diff) if predictions_diff is not None else None
    weights = weights_max_abs_diff(paths.weights("eager"), paths.weights("graph"))
    snapshots = [load_epoch_weights(paths, mode) for mode in ("eager", "graph")]
    per_epoch = epoch_differences(*snapshots) if all(s is not None for s in snapshots) else None
    drifted_at = drift_epoch(per_epoch) if per_epoch is not None else None
    stops = {mode: [report[mode].get("best_epoch"), report[mode].get("stopped_epoch")] for mode in ("eager", "graph")}
    note = parity_note(weights, predictions, drifted_at, len(graph["history"]), step)
    note = stop_note(stops["eager"], stops["graph"]) or note
    return {**none, **speed, "parity_max_abs_diff": predictions, "weights_max_abs_diff": weights,
            "parity_drift_epoch": drifted_at, "parity_epoch_max_abs_diff": per_epoch, "parity_note": note,
            "parity_stop_epochs": stops}


def evaluate_run(run_dir: Path) -> dict:
    """Stage logic: score the trained SavedModels (reloaded from disk) on the raw test split, read once for all of
    them, block by block; write metrics.json."""
    paths = RunPaths.of(run_dir)
    normalizer = read_preprocessing(paths.normalizer)
    report = {}
    modes = [mode for mode in MODES if paths.history(mode).is_file()]  # a run may train one mode only
    both = ("eager", "graph") if set(modes) == {"eager", "graph"} else None
    scores = score_blocks({mode: paths.model(mode) for mode in modes}, paths.test_raw, normalizer, compare=both)
    for mode in modes:
        history = read_json(paths.history(mode))
        report[mode] = {**scores.metrics[mode], "variant_reason": history["variant_reason"],
                        "train_seconds": history["train_seconds"], "trace_seconds": history["trace_seconds"],
                        "steady_seconds": history["steady_seconds"], "median_step_ms": history["median_step_ms"],
                        "variant": history["variant"], "bounded": history["bounded"], "steps": history["steps"],
                        "full_steps": history["full_steps"], "full_train_seconds": history["full_train_seconds"],
                        "best_epoch": history.get("best_epoch"), "stopped_epoch": history.get("stopped_epoch"),
                        "stop_reason": history.get("stop_reason"),
                        "history": [{k: e[k] for k in ("epoch", "loss", "val_loss", "accuracy") if k in e}
                                    for e in history["history"]]}
    report.update(compare_modes(report, scores.max_abs_diff, paths))
    report["graph_variant"] = report["graph"]["variant"] if "graph" in report else None
    report["test_rows"] = scores.rows
    report["task"], report["classes"] = normalizer.task, normalizer.classes  # the design's contract: every task names itself
    if normalizer.task == "binary":
        report["positive_class"] = positive_class(normalizer.classes)  # precision, recall and the probability are about it
    write_json(paths.metrics, report)
    return report

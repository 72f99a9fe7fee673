"""The one catalogue of metrics: names, tasks, directions, labels, formats, the gate's defaults and floors.

Every place that shows or compares a metric (evaluate, the terminal, the evaluation artifact, metrics.json, the
gate, the registry, the sweep's ranking and `eagergraph runs`) reads its name, direction, label and format from
`CATALOGUE`; a new metric is one `Metric(...)` line here, one entry in its task's accumulator
(`eagergraph/accumulators.py`) and one in its task's bootstrap function (`registry/bootstrap.py`, for the gate).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

Task = Literal["binary", "multiclass", "regression"]
TASKS: tuple[Task, ...] = ("binary", "multiclass", "regression")
DEFAULT_TASK: Task = "binary"  # the task of a run that records none: runs made before tasks were binary
POSITIVE = 1  # a binary label's code for the positive class, classes[1] (the larger value unless --positive-class)
EPSILON = 1e-7  # Keras's clipping of probabilities in its cross-entropies, so test loss matches training loss


@dataclass(frozen=True)
class Metric:
    """One metric: its key in metrics.json, the tasks it belongs to, which way is better, how people read it."""

    name: str
    tasks: tuple[Task, ...]
    higher_is_better: bool
    label: str
    format: str = ".4f"

    def show(self, value: float | None) -> str:
        """The value as the terminal, the UI and `runs` print it ("–" when absent)."""
        return "–" if value is None else format(float(value), self.format)

    def improvement(self, value: float, baseline: float) -> float:
        """How much better `value` is than `baseline` in this metric's direction (negative: worse)."""
        return value - baseline if self.higher_is_better else baseline - value


CATALOGUE: tuple[Metric, ...] = (
    Metric("auc", ("binary",), True, "AUC"),
    Metric("macro_auc", ("multiclass",), True, "macro AUC (one-vs-rest)"),
    Metric("accuracy", ("binary", "multiclass"), True, "accuracy"),
    Metric("macro_f1", ("multiclass",), True, "macro F1"),
    Metric("precision", ("binary",), True, "precision"),
    Metric("recall", ("binary",), True, "recall"),
    Metric("loss", ("binary", "multiclass"), False, "log loss"),
    Metric("rmse", ("regression",), False, "RMSE"),
    Metric("mae", ("regression",), False, "MAE"),
    Metric("r2", ("regression",), True, "R²"),
    Metric("baseline_rmse", ("regression",), False, "RMSE of the training mean"),
)
BY_NAME = {metric.name: metric for metric in CATALOGUE}
# The gate's default metric per task, and the floors a task may set (config field → metric; each floor's value and
# default live in PipelineConfig alone).
GATE_DEFAULT: dict[Task, str] = {"binary": "auc", "multiclass": "macro_auc", "regression": "rmse"}
FLOORS: dict[str, str] = {"min_auc": "auc", "min_accuracy": "accuracy", "min_r2": "r2"}
# The baseline every model must beat, first runs included: binary AUC above chance by AUC_MARGIN, multiclass
# accuracy above the majority class's share of the train split, regression R² above 0 (the training mean's).
BASELINE_METRIC: dict[Task, str] = {"binary": "auc", "multiclass": "accuracy", "regression": "r2"}
AUC_MARGIN = 0.02  # an AUC within 0.02 of 0.5 is what shuffled labels give on a few hundred test rows
# The metrics a sweep ranks its candidates by, per task, in this order (each in its catalogue direction).
RANK_BY: dict[Task, tuple[str, ...]] = {"binary": ("auc", "accuracy", "loss"),
                                        "multiclass": ("macro_auc", "accuracy", "loss"),
                                        "regression": ("rmse", "mae")}
# metrics.json's bound on |AUC - exact AUC| beside `auc` (binary) or `macro_auc` (multiclass: the mean of the classes'
# bounds); 0.0 when the AUC is exact. Not a catalogue metric: no table shows it unless it is above 0.
AUC_MAX_ERROR = "auc_max_error"


def task_of(record: Mapping[Any, Any], key: str | bytes = "task") -> Task:
    """The task a record names (metrics.json, a registry row, a stage's result, or raw.parquet's metadata under its
    bytes key): its own, else the default."""
    task = record.get(key)
    return (task.decode() if isinstance(task, bytes) else task) or DEFAULT_TASK


def served_metrics(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """The metrics of the model a run serves: its graph model's, else its eager one's."""
    return metrics.get("graph") or metrics.get("eager") or {}


def positive_class(classes: Sequence[Any]) -> Any:
    """A binary task's positive class among its recorded classes (probability, precision and recall are about it)."""
    return classes[POSITIVE]


def metrics_for(task: Task) -> tuple[Metric, ...]:
    """The catalogue's metrics of one task, in catalogue order (the order every table shows them)."""
    return tuple(metric for metric in CATALOGUE if task in metric.tasks)


def metric(name: str) -> Metric:
    """The catalogue entry of a metric, by its metrics.json key."""
    return BY_NAME[name]


def rank_key(row: dict, task: Task) -> tuple:
    """A sweep candidate's sort key, best first: the task's RANK_BY metrics in their catalogue directions; a
    candidate with any non-finite ranking metric (NaN, ±inf: a diverged model) after every finite one."""
    values = [(metric(name), float(row[name])) for name in RANK_BY[task]]
    finite = all(np.isfinite(value) for _, value in values)
    return (not finite, *((-v if m.higher_is_better else v) if np.isfinite(v) else np.inf for m, v in values))


def baseline(task: Task, majority_share: float | None = None) -> tuple[str, float, str]:
    """The baseline a task's model must beat: its metric, the value to exceed, and what that value means.
    `majority_share`: the share of the train split's most frequent class (multiclass)."""
    if task == "multiclass":
        share = float(majority_share) if majority_share is not None else 0.0
        return "accuracy", share, f"no better than always predicting the majority class ({share:.4f})"
    if task == "regression":
        return "r2", 0.0, "worse than predicting the training mean"
    return "auc", 0.5 + AUC_MARGIN, f"no better than chance (0.5, margin {AUC_MARGIN:g})"


@dataclass(frozen=True)
class Tolerance:
    """The gate's tolerance: absolute (in the metric's units) or relative to production's value (`2%`)."""

    value: float
    relative: bool = False

    def absolute(self, reference: float) -> float:
        """The tolerance in the metric's units, given production's value."""
        return self.value * abs(reference) if self.relative else self.value

    def __str__(self) -> str:
        return f"{self.value * 100:g}%" if self.relative else f"{self.value:g}"


def parse_tolerance(text: str | float) -> Tolerance:
    """`0.01` → absolute, `2%` → relative; a ValueError (naming the accepted forms) for anything else or a
    negative value."""
    raw = str(text).strip()
    relative = raw.endswith("%")
    try:
        value = float(raw[:-1] if relative else raw)
    except ValueError:
        value = float("nan")
    if not np.isfinite(value) or value < 0 or isinstance(text, bool):
        raise ValueError("a tolerance is a number ≥ 0 (in the metric's units) or a percentage such as 2%")
    return Tolerance(value / 100 if relative else value, relative)

"""The promotion gate: the new model against production's, on the new run's test split, side by side.

A candidate is promoted when it is not worse than production by more than a tolerance on the gate metric (the
task's default, or any catalogue metric of the task), in that metric's direction, and clears the optional floors
of its task (min_auc binary, min_accuracy classification, min_r2 regression). The first run promotes itself (floors still apply); a candidate whose features or
label classes differ from production's cannot be scored against it and is judged on its floors alone.

Pure: the gate stage scores the models with TensorFlow (core.gate) and hands the numbers here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eagergraph.config import PipelineConfig, option_name
from eagergraph.errors import ConfigError
from eagergraph.metrics import FLOORS, GATE_DEFAULT, Task, metric, metrics_for

_DEFAULTS = PipelineConfig.model_fields  # the gate's defaults are the config's: written once, there


@dataclass(frozen=True)
class GateRules:
    """The gate's settings (PipelineConfig's gate_metric, gate_tolerance and floors). `metric` None: the task's
    default (GATE_DEFAULT); a floor is None when not set."""

    metric: str | None = _DEFAULTS["gate_metric"].default
    tolerance: float = _DEFAULTS["gate_tolerance"].default
    min_auc: float | None = _DEFAULTS["min_auc"].default
    min_accuracy: float | None = _DEFAULTS["min_accuracy"].default
    min_r2: float | None = _DEFAULTS["min_r2"].default

    @classmethod
    def of(cls, config: Any) -> "GateRules":
        return cls(config.gate_metric, config.gate_tolerance, **{floor: getattr(config, floor) for floor in FLOORS})

    def floors(self) -> dict[str, float | None]:
        """Each floor's config name and value (None: not set)."""
        return {floor: getattr(self, floor) for floor in FLOORS}

    def metric_of(self, task: Task) -> str:
        """The metric the gate compares for a task: the one set, else the task's default."""
        return self.metric or GATE_DEFAULT[task]


def check_rules(rules: GateRules, task: Task) -> None:
    """A ConfigError (one line) when the gate metric or a floor set does not belong to the task."""
    names = [m.name for m in metrics_for(task)]
    if rules.metric_of(task) not in names:
        raise ConfigError(f"--gate-metric {rules.metric}: not a metric of a {task} model (choose one of {', '.join(names)})")
    wrong = [floor for floor, value in rules.floors().items() if value is not None and FLOORS[floor] not in names]
    if wrong:
        fitting = [floor for floor, name in FLOORS.items() if name in names]
        raise ConfigError(f"{option_name(wrong[0])} does not apply to a {task} model "
                          f"(its floors: {', '.join(option_name(f) for f in fitting)})")


def floor_failures(candidate: dict[str, float], rules: GateRules) -> list[str]:
    """The floors the candidate misses, each named with its value (only floors of metrics the candidate has)."""
    return [f"{name} {metric(name).show(candidate[name])} below {floor} {value:g}"
            for floor, value in rules.floors().items() for name in (FLOORS[floor],)
            if value is not None and name in candidate and candidate[name] < value]


def decide(candidate: dict[str, float], production: dict[str, float] | None, rules: GateRules,
           incomparable: str | None = None, task: Task = "binary") -> dict[str, Any]:
    """The verdict: promoted or not, and why in one sentence naming the metric and its direction. Pure: metrics in,
    decision out; the tolerance is applied in the metric's direction (Metric.improvement).

    `production` is None on the first run or when `incomparable` says why production cannot be scored on this
    run's test split (features or classes differ).
    """
    misses = floor_failures(candidate, rules)
    name = rules.metric_of(task)
    gauge = metric(name)
    value = candidate[name]
    if production is None:
        basis = f"judged on its own floors only: {incomparable}" if incomparable else "first run: no production model yet"
        promoted = not misses
        reason = f"{basis}; " + ("; ".join(misses) if misses else f"{name} {gauge.show(value)}, floors cleared")
    else:
        baseline = production[name]
        worse = -gauge.improvement(value, baseline) > rules.tolerance
        direction = "higher" if gauge.higher_is_better else "lower"
        compared = (f"{name} {gauge.show(value)} vs production {gauge.show(baseline)} ({direction} is better; "
                    f"{value - baseline:+{gauge.format}}, tolerance {rules.tolerance:g})")
        promoted = not worse and not misses
        reason = (f"worse than production: {compared}" if worse else f"not worse than production: {compared}")
        if misses:
            reason += "; " + "; ".join(misses)
    return {"promoted": promoted, "reason": reason, "metric": name, "tolerance": rules.tolerance, "task": task,
            "floors": rules.floors(), "comparable": production is not None,
            "candidate": candidate, "production": production}


def inputs_differ(candidate: dict, production: dict) -> str | None:
    """Why production's model cannot be scored on the candidate's test split (from the two models' recorded
    eagergraph.json: features, task, kinds, imputed columns, classes), or None when it can."""
    if candidate["features"] != production["features"]:
        missing = [f for f in candidate["features"] if f not in production["features"]]
        extra = [f for f in production["features"] if f not in candidate["features"]]
        detail = "; ".join(part for part in (f"new {', '.join(missing)}" if missing else "",
                                             f"dropped {', '.join(extra)}" if extra else "") if part) or "reordered"
        return f"features differ from production ({detail})"
    if candidate.get("task", "binary") != production.get("task", "binary"):
        return f"the task differs from production ({production.get('task', 'binary')} → {candidate.get('task', 'binary')})"
    kinds, before = candidate.get("kinds") or {}, production.get("kinds") or {}
    changed = [f"{name} {before.get(name, 'numeric')} → {kind}" for name, kind in kinds.items() if kind != before.get(name, "numeric")]
    if changed:
        return f"feature kinds differ from production ({', '.join(changed)})"
    unimputed = sorted(set(candidate.get("imputed") or {}) - set(production.get("imputed") or {}))
    if unimputed:  # this run's test split has gaps there, which production's model cannot predict
        return f"production does not impute {', '.join(unimputed)}, which this run's test split has gaps in"
    if [str(c) for c in candidate["classes"]] != [str(c) for c in production["classes"]]:
        return f"label classes differ from production ({production['classes']} → {candidate['classes']})"
    return None


def rounded(metrics: dict[str, Any], task: Task = "binary") -> dict[str, float]:
    """The task's catalogue metrics, rounded as the registry records them (the confusion matrix stays out)."""
    return {m.name: round(float(metrics[m.name]), 6) for m in metrics_for(task) if m.name in metrics}


def production_after(promoted: bool, candidate_dir: Path, production_dir: Path | None) -> Path | None:
    """The production run once the verdict is recorded: the candidate when promoted, else production unchanged."""
    return Path(candidate_dir) if promoted else production_dir

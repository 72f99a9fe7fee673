"""The promotion gate: a candidate against its baseline, its floors and its model's production. Pure: the gate stage
scores the models with TensorFlow (core.gate) and hands the numbers here; `docs/retraining.md` states the rule.

In order, a candidate is refused when: a metric is not finite (NaN, ±inf); it does not beat its task's baseline
(metrics.baseline; first runs included, unless `beat_baseline` is off); it misses a floor it set; its schema
(features, kinds, classes, task) differs from production's, unless `accept_schema_change`; or it is worse than
production by more than the tolerance AND the paired bootstrap interval of the difference lies wholly on the worse
side of zero (the drop is beyond the tolerance and beyond the noise).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eagergraph.config import option_name
from eagergraph.errors import ConfigError
from eagergraph.metrics import (
    DEFAULT_TASK,
    FLOORS,
    GATE_DEFAULT,
    Task,
    Tolerance,
    baseline,
    metric,
    metrics_for,
    parse_tolerance,
    task_of,
)
from eagergraph.registry.bootstrap import CONFIDENCE, Interval


@dataclass(frozen=True)
class GateRules:
    """The gate's settings, read from PipelineConfig by `of` (their defaults live there alone). `metric` None: the
    task's default (GATE_DEFAULT); `floors`: each floor's config name and value (None: not set)."""

    metric: str | None
    tolerance: str
    floors: dict[str, float | None] = field(default_factory=lambda: dict.fromkeys(FLOORS))
    beat_baseline: bool = True
    accept_schema_change: bool = False
    seed: int = 0

    @classmethod
    def of(cls, config: Any) -> "GateRules":
        return cls(config.gate_metric, str(config.gate_tolerance), {floor: getattr(config, floor) for floor in FLOORS},
                   config.beat_baseline, config.accept_schema_change, config.seed)

    @property
    def tolerance_rule(self) -> Tolerance:
        return parse_tolerance(self.tolerance)

    def metric_of(self, task: Task) -> str:
        """The metric the gate compares for a task: the one set, else the task's default."""
        return self.metric or GATE_DEFAULT[task]


@dataclass(frozen=True)
class SharedCount:
    """The test rows the two models were compared on: `rows` of this run's `total` test rows (those production's
    own split rule also held out); `note`, why they could not be narrowed so (None when they were)."""

    rows: int
    total: int
    note: str | None = None

    def phrase(self) -> str:
        """How the compared rows were chosen, for the verdict line."""
        if self.note:
            return self.note
        return f"compared on {self.rows:,} of this run's {self.total:,} test rows, those production's split also held out"


def check_rules(rules: GateRules, task: Task) -> None:
    """A ConfigError (one line) when the gate metric or a floor set does not belong to the task."""
    names = [m.name for m in metrics_for(task)]
    if rules.metric_of(task) not in names:
        raise ConfigError(f"--gate-metric {rules.metric}: not a metric of a {task} model (choose one of {', '.join(names)})")
    wrong = [floor for floor, value in rules.floors.items() if value is not None and FLOORS[floor] not in names]
    if wrong:
        fitting = [floor for floor, name in FLOORS.items() if name in names]
        raise ConfigError(f"{option_name(wrong[0])} does not apply to a {task} model "
                          f"(its floors: {', '.join(option_name(f) for f in fitting)})")


def not_finite(candidate: dict[str, float]) -> list[str]:
    """The candidate's metrics that are NaN or infinite, each with its value."""
    return [f"{name} {value}" for name, value in candidate.items() if not math.isfinite(float(value))]


def baseline_miss(candidate: dict[str, float], task: Task, majority_share: float | None) -> str | None:
    """Why the candidate does not beat its task's baseline ("R² −2.1100: worse than predicting the training mean"),
    or None when it does (strictly above)."""
    name, value, meaning = baseline(task, majority_share)
    if name not in candidate or candidate[name] > value:
        return None
    return f"{metric(name).label} {metric(name).show(candidate[name]).replace('-', '−')}: {meaning}"


def floor_failures(candidate: dict[str, float], rules: GateRules) -> list[str]:
    """The floors the candidate misses, each named with its value (only floors of metrics the candidate has)."""
    return [f"{name} {metric(name).show(candidate[name])} below {floor} {value:g}"
            for floor, value in rules.floors.items() for name in (FLOORS[floor],)
            if value is not None and name in candidate and candidate[name] < value]


def _compare(candidate: dict[str, float], production: dict[str, float], rules: GateRules, task: Task,
             interval: Interval | None, rows: int | None = None) -> tuple[bool, str]:
    """Worse beyond the tolerance and the noise? The improvement δ (candidate − production in the metric's
    direction) and its interval [lo, hi]: refused iff δ < −tolerance and hi < 0."""
    name = rules.metric_of(task)
    gauge = metric(name)
    value, reference = candidate[name], production[name]
    sign = 1.0 if gauge.higher_is_better else -1.0
    delta = gauge.improvement(value, reference)
    allowed = rules.tolerance_rule.absolute(reference)
    shown_tolerance = f"{rules.tolerance} = {allowed:g}" if rules.tolerance_rule.relative else rules.tolerance
    direction = "higher" if gauge.higher_is_better else "lower"
    compared = f"{name} {gauge.show(value)} vs production {gauge.show(reference)} ({direction} is better; " \
               f"{value - reference:+{gauge.format}}"
    beyond_tolerance = delta < -allowed
    measured = interval is not None and math.isfinite(interval.high)  # else the tolerance alone decides
    if not measured:
        worse, noisy = beyond_tolerance, False
        compared += f", tolerance {shown_tolerance})"
    else:
        worse_beyond_noise = max(sign * interval.low, sign * interval.high) < 0
        worse, noisy = beyond_tolerance and worse_beyond_noise, beyond_tolerance and not worse_beyond_noise
        lo, hi = sorted((interval.low, interval.high))
        over = f"{interval.rows:,} shared test rows" if rows is None or rows == interval.rows else \
            f"a sample of {interval.rows:,} of {rows:,} shared test rows"
        compared += (f", {CONFIDENCE:.0%} interval [{lo:+{gauge.format}}, {hi:+{gauge.format}}] over "
                     f"{over}, tolerance {shown_tolerance})")
    if worse:
        beyond = " beyond the tolerance and the noise" if measured else ""
        return False, f"worse than production{beyond}: {compared}"
    if noisy:
        return True, f"not worse than production beyond the noise: {compared}"
    return True, f"not worse than production: {compared}"


def decide(candidate: dict[str, float], production: dict[str, float] | None, rules: GateRules, task: Task = DEFAULT_TASK,
           *, schema: str | None = None, interval: Interval | None = None,
           majority_share: float | None = None, compared: dict[str, float] | None = None,
           shared: SharedCount | None = None) -> dict[str, Any]:
    """The verdict: promoted or not, and why in one sentence. Pure: metrics in, decision out.

    `production` is None on the first run, when `schema` says how production's inputs differ (it cannot be scored
    on this run's test rows) or when no test row is shared; `interval`: the paired bootstrap of candidate −
    production on the gate metric; `majority_share`: the train split's most frequent class's share (the multiclass
    baseline). `candidate` holds the run's metrics on its whole test split (baseline and floors are judged there);
    `compared`, the candidate's on the `shared` rows production was scored on (the comparison uses these)."""
    name = rules.metric_of(task)
    refusals = []
    if bad := not_finite(candidate):
        refusals.append(f"not a finite number: {', '.join(bad)} (a model with non-finite metrics is never promoted)")
    elif rules.beat_baseline and (miss := baseline_miss(candidate, task, majority_share)):
        refusals.append(miss)
    refusals += floor_failures(candidate, rules)
    if schema and not rules.accept_schema_change:
        refusals.append(f"{schema}: a schema change is not promoted silently; pass --accept-schema-change (or "
                        "`eagergraph promote`) to make it production, or --model-name to keep a different table apart")
    if shared is not None and shared.rows == 0 and not schema:
        refusals.append(f"not compared with production: none of this run's {shared.total:,} test rows is a test row "
                        "of production's split (its seed or fractions differ); `eagergraph promote` makes it "
                        "production by hand")
    if not refusals and production is not None and not schema and (undefined := not_finite(
            {f"{name} (this run)": (compared or candidate)[name], f"{name} (production)": production[name]})):
        rows = f"the {shared.rows:,} shared test rows" if shared is not None else "the test rows"
        refusals.append(f"not compared with production: {', '.join(undefined)} on {rows} (an AUC needs both classes "
                        "there); `eagergraph promote` makes it production by hand")
    if refusals:
        promoted, reason = False, "; ".join(refusals)
    elif schema:
        promoted, reason = True, f"schema change accepted ({schema}); baseline and floors cleared"
    elif production is None:
        promoted, reason = True, f"first run: no production model yet; {name} {metric(name).show(candidate[name])}, " \
                                 "baseline and floors cleared"
    else:
        promoted, reason = _compare(compared or candidate, production, rules, task, interval,
                                    shared.rows if shared else None)
        if shared is not None and (shared.note or shared.rows < shared.total):
            reason += f"; {shared.phrase()}"
    return {"promoted": promoted, "reason": reason, "metric": name, "tolerance": rules.tolerance, "task": task,
            "floors": rules.floors, "comparable": production is not None, "candidate": candidate,
            "production": production, "schema_change": schema, "compared_candidate": compared,
            "shared_rows": None if shared is None else {"rows": shared.rows, "test_rows": shared.total,
                                                        "note": shared.note},
            "interval": None if interval is None else {"difference": interval.difference, "low": interval.low,
                                                       "high": interval.high, "rows": interval.rows,
                                                       "resamples": interval.resamples}}


def inputs_differ(candidate: dict, production: dict) -> str | None:
    """Why production's model cannot be scored on the candidate's test split (from the two models' recorded
    eagergraph.json: features, task, kinds, imputed columns, classes), or None when it can."""
    if candidate["features"] != production["features"]:
        missing = [f for f in candidate["features"] if f not in production["features"]]
        extra = [f for f in production["features"] if f not in candidate["features"]]
        detail = "; ".join(part for part in (f"new {', '.join(missing)}" if missing else "",
                                             f"dropped {', '.join(extra)}" if extra else "") if part) or "reordered"
        return f"features differ from production ({detail})"
    if task_of(candidate) != task_of(production):
        return f"the task differs from production ({task_of(production)} → {task_of(candidate)})"
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


def rounded(metrics: dict[str, Any], task: Task = DEFAULT_TASK) -> dict[str, float]:
    """The task's catalogue metrics, rounded as the registry records them (the confusion matrix stays out)."""
    return {m.name: round(float(metrics[m.name]), 6) for m in metrics_for(task) if m.name in metrics}


def production_after(promoted: bool, candidate_dir: Path, production_dir: Path | None) -> Path | None:
    """The production run once the verdict is recorded: the candidate when promoted, else production unchanged."""
    return Path(candidate_dir) if promoted else production_dir


def rules_of(**settings: Any) -> GateRules:
    """The gate's rules of a config with these settings (the rest at their config defaults)."""
    from eagergraph.config import PipelineConfig

    return GateRules.of(PipelineConfig(**settings))

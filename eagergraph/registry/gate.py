"""The promotion gate: the new model against production's, on the new run's test split, side by side.

A candidate is promoted when it is not worse than production by more than a tolerance on the gate metric and
clears the optional floors. The first run promotes itself (floors still apply); a candidate whose features or
label classes differ from production's cannot be scored against it and is judged on its floors alone.

Pure: the gate stage scores the models with TensorFlow (core.gate) and hands the numbers here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eagergraph.config import PipelineConfig
from eagergraph.metrics import CATALOGUE, GATE_DEFAULT

_DEFAULTS = PipelineConfig.model_fields  # the gate's defaults are the config's: written once, there
LOWER_IS_BETTER = {m.name for m in CATALOGUE if not m.higher_is_better}
SCORED = ("loss", "accuracy", "auc", "precision", "recall")  # binary's, as the registry records them
ALL_SCORED = tuple(dict.fromkeys([*SCORED, *(m.name for m in CATALOGUE)]))  # every task's


@dataclass(frozen=True)
class GateRules:
    """The gate's settings (PipelineConfig's gate_metric, gate_tolerance, min_auc, min_accuracy)."""

    metric: str = _DEFAULTS["gate_metric"].default
    tolerance: float = _DEFAULTS["gate_tolerance"].default
    min_auc: float | None = _DEFAULTS["min_auc"].default
    min_accuracy: float | None = _DEFAULTS["min_accuracy"].default

    @classmethod
    def of(cls, config: Any) -> "GateRules":
        return cls(config.gate_metric, config.gate_tolerance, config.min_auc, config.min_accuracy)


def floor_failures(candidate: dict[str, float], rules: GateRules) -> list[str]:
    """The floors the candidate misses, each named with its value."""
    floors = {"auc": rules.min_auc, "accuracy": rules.min_accuracy}
    return [f"{name} {candidate[name]:.4f} below min_{name} {floor:g}" for name, floor in floors.items()
            if floor is not None and name in candidate and candidate[name] < floor]


def decide(candidate: dict[str, float], production: dict[str, float] | None, rules: GateRules,
           incomparable: str | None = None) -> dict[str, Any]:
    """The verdict: promoted or not, and why in one sentence. Pure: metrics in, decision out.

    `production` is None on the first run or when `incomparable` says why production cannot be scored on this
    run's test split (features or classes differ).
    """
    misses = floor_failures(candidate, rules)
    # a task without the configured metric is judged on its task's default (until the gate is per task)
    name = rules.metric if rules.metric in candidate else next(m for m in GATE_DEFAULT.values() if m in candidate)
    value = candidate[name]
    if production is None:
        basis = f"judged on its own floors only: {incomparable}" if incomparable else "first run: no production model yet"
        promoted = not misses
        reason = f"{basis}; " + ("; ".join(misses) if misses else f"{name} {value:.4f}, floors cleared")
    else:
        baseline = production[name]
        change = (baseline - value) if name in LOWER_IS_BETTER else (value - baseline)
        worse = -change > rules.tolerance
        compared = f"{name} {value:.4f} vs production {baseline:.4f} ({change:+.4f}, tolerance {rules.tolerance:g})"
        promoted = not worse and not misses
        reason = (f"worse than production: {compared}" if worse else f"not worse than production: {compared}")
        if misses:
            reason += "; " + "; ".join(misses)
    return {"promoted": promoted, "reason": reason, "metric": name, "tolerance": rules.tolerance,
            "floors": {"min_auc": rules.min_auc, "min_accuracy": rules.min_accuracy}, "comparable": production is not None,
            "candidate": candidate, "production": production}


def inputs_differ(candidate: dict, production: dict) -> str | None:
    """Why production's model cannot be scored on the candidate's test split (from the two models' recorded
    features and classes), or None when it can."""
    if candidate["features"] != production["features"]:
        missing = [f for f in candidate["features"] if f not in production["features"]]
        extra = [f for f in production["features"] if f not in candidate["features"]]
        detail = "; ".join(part for part in (f"new {', '.join(missing)}" if missing else "",
                                             f"dropped {', '.join(extra)}" if extra else "") if part) or "reordered"
        return f"features differ from production ({detail})"
    if [str(c) for c in candidate["classes"]] != [str(c) for c in production["classes"]]:
        return f"label classes differ from production ({production['classes']} → {candidate['classes']})"
    return None


def rounded(metrics: dict[str, float]) -> dict[str, float]:
    """The scored metrics, rounded as the registry records them."""
    return {key: round(float(metrics[key]), 6) for key in ALL_SCORED if key in metrics}


def production_after(promoted: bool, candidate_dir: Path, production_dir: Path | None) -> Path | None:
    """The production run once the verdict is recorded: the candidate when promoted, else production unchanged."""
    return Path(candidate_dir) if promoted else production_dir

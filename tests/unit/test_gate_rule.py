"""The gate's rule (issues 23, 24): non-finite metrics, the baseline every model must beat, the tolerance in the
metric's units or relative, and the paired bootstrap that keeps noise from refusing a model. Pure numpy."""

from __future__ import annotations

import numpy as np
import pytest

from eagergraph.accumulators import binary_metrics, multiclass_metrics, regression_metrics
from eagergraph.auc import roc_auc
from eagergraph.config import build_config
from eagergraph.errors import ConfigError
from eagergraph.metrics import parse_tolerance
from eagergraph.registry.bootstrap import paired_interval, weighted_metric
from eagergraph.registry.gate import decide, rules_of

BINARY = {"loss": 0.3, "accuracy": 0.9, "auc": 0.95, "precision": 0.9, "recall": 0.9}
REGRESSION = {"rmse": 2.9, "mae": 2.1, "r2": 0.8, "baseline_rmse": 6.0}
MULTICLASS = {"accuracy": 0.5, "macro_f1": 0.4, "macro_auc": 0.7, "loss": 1.0}


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_a_non_finite_metric_is_never_promoted_first_run_or_not(bad: float) -> None:
    first = decide({**BINARY, "auc": bad}, None, rules_of())
    assert not first["promoted"] and first["reason"].startswith(f"not a finite number: auc {bad}")
    against = decide({**BINARY, "loss": bad}, BINARY, rules_of(gate_metric="auc"))
    assert not against["promoted"] and "loss" in against["reason"]
    regression = decide({**REGRESSION, "rmse": bad, "r2": bad}, None, rules_of(), task="regression")
    assert not regression["promoted"]


def test_every_model_must_beat_its_baseline_in_those_words() -> None:
    diamonds = decide({**REGRESSION, "r2": -2.11}, None, rules_of(), task="regression")
    assert not diamonds["promoted"] and diamonds["reason"] == "R² −2.1100: worse than predicting the training mean"
    chance = decide({**BINARY, "auc": 0.515}, None, rules_of())
    assert not chance["promoted"] and chance["reason"].startswith("AUC 0.5150: no better than chance")
    assert decide({**BINARY, "auc": 0.53}, None, rules_of())["promoted"]
    majority = decide(MULTICLASS, None, rules_of(), task="multiclass", majority_share=0.6)
    assert not majority["promoted"] and "no better than always predicting the majority class (0.6000)" in majority["reason"]
    assert decide(MULTICLASS, None, rules_of(), task="multiclass", majority_share=0.4)["promoted"]
    assert decide({**REGRESSION, "r2": -2.11}, None, rules_of(beat_baseline=False), task="regression")["promoted"]


def test_the_tolerance_is_absolute_or_relative_and_bad_values_are_one_line() -> None:
    assert parse_tolerance("2%").absolute(300.0) == pytest.approx(6.0)
    assert parse_tolerance(0.01).absolute(300.0) == 0.01
    production = {**REGRESSION, "rmse": 300.0}
    assert decide({**production, "rmse": 305.0}, production, rules_of(gate_tolerance="2%"), task="regression")["promoted"]
    assert not decide({**production, "rmse": 307.0}, production, rules_of(gate_tolerance="2%"), task="regression")["promoted"]
    for bad in ("-1", "-2%", "two", "2%%", "nan"):
        with pytest.raises(ConfigError, match=f"invalid value for --gate-tolerance: '{bad}' \\(a tolerance is a number"):
            build_config(gate_tolerance=bad)


def _scores(rng: np.random.Generator, labels: np.ndarray, skill: float) -> np.ndarray:
    return 1 / (1 + np.exp(-(skill * (labels - 0.5) * 2 + rng.normal(size=len(labels)))))


def test_weighted_metrics_with_unit_weights_are_the_catalogues() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    p = _scores(rng, y, 1.0)
    ones = np.ones((1, len(y)))
    for name, value in binary_metrics(y, p).items():
        assert weighted_metric("binary", name, y, p, ones)[0] == pytest.approx(value, abs=1e-9), name
    k = rng.integers(0, 3, 400)
    probs = rng.dirichlet(np.ones(3), size=400)
    expected = multiclass_metrics(k, probs)
    for name in ("accuracy", "macro_f1", "macro_auc", "loss"):
        assert weighted_metric("multiclass", name, k, probs, ones[:, :400])[0] == pytest.approx(expected[name], abs=1e-9)
    t, v = rng.normal(size=300) * 5 + 10, rng.normal(size=300) * 5 + 10
    for name, value in regression_metrics(t, v, 9.0).items():
        assert weighted_metric("regression", name, t, v, ones[:, :300], 9.0)[0] == pytest.approx(value, abs=1e-9)
    twice = np.ones((1, len(y)))
    twice[0, :10] = 2  # a row drawn twice counts twice
    doubled = np.concatenate([y, y[:10]]), np.concatenate([p, p[:10]])
    assert weighted_metric("binary", "auc", y, p, twice)[0] == pytest.approx(roc_auc(*doubled), abs=1e-12)


def test_a_small_drop_within_noise_promotes_a_real_one_refuses_and_the_interval_is_seeded() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 1045)
    production = _scores(rng, y, 1.2)
    noisy = np.clip(production + rng.normal(scale=0.05, size=len(y)), 0, 1)  # a little worse, by noise alone
    much_worse = _scores(rng, y, 0.4)
    rules = rules_of(seed=3)

    def judge(candidate: np.ndarray) -> dict:
        interval = paired_interval("binary", "auc", y, candidate, production, seed=3)
        assert interval == paired_interval("binary", "auc", y, candidate, production, seed=3)  # seeded
        return decide({**BINARY, "auc": roc_auc(y, candidate)}, {**BINARY, "auc": roc_auc(y, production)}, rules,
                      interval=interval)

    small, large = judge(noisy), judge(much_worse)
    assert -0.01 < small["interval"]["difference"] < 0  # worse, but by less than the tolerance
    assert small["promoted"] and "over 1,045 shared test rows" in small["reason"]
    assert not large["promoted"] and large["reason"].startswith("worse than production beyond the tolerance and the noise")
    assert large["interval"]["high"] < 0


def test_beyond_the_tolerance_but_within_the_noise_promotes_and_says_so() -> None:
    from eagergraph.registry.bootstrap import Interval

    verdict = decide({**BINARY, "auc": 0.939}, BINARY, rules_of(), interval=Interval(-0.011, -0.035, 0.012, 1045))
    assert verdict["promoted"] and verdict["reason"].startswith("not worse than production beyond the noise")
    refused = decide({**BINARY, "auc": 0.939}, BINARY, rules_of(), interval=Interval(-0.011, -0.02, -0.002, 1045))
    assert not refused["promoted"]
    lower = decide({**REGRESSION, "rmse": 3.2}, REGRESSION, rules_of(), task="regression",
                   interval=Interval(0.3, 0.1, 0.5, 500))  # rmse up: worse, wholly above zero
    assert not lower["promoted"]
    unmeasured = decide({**BINARY, "auc": 0.939}, BINARY, rules_of(),  # no finite interval: the tolerance alone
                        interval=Interval(-0.011, float("nan"), float("nan"), 50))
    assert not unmeasured["promoted"] and unmeasured["reason"].startswith("worse than production: ")


def test_a_sweep_ranks_a_nan_candidate_last() -> None:
    from eagergraph.metrics import rank_key

    rows = [{"name": "nan", "auc": float("nan"), "accuracy": 0.99, "loss": 0.1},
            {"name": "fair", "auc": 0.8, "accuracy": 0.7, "loss": 0.5},
            {"name": "good", "auc": 0.9, "accuracy": 0.8, "loss": 0.4},
            {"name": "inf-loss", "auc": 0.95, "accuracy": 0.9, "loss": float("inf")}]
    assert [r["name"] for r in sorted(rows, key=lambda r: rank_key(r, "binary"))] == ["good", "fair", "inf-loss", "nan"]


def test_the_comparison_uses_the_shared_rows_and_says_how_they_were_chosen() -> None:
    from eagergraph.registry.gate import SharedCount

    rules = rules_of()
    whole, shared = {"auc": 0.70}, {"auc": 0.90}  # the candidate on its whole test split, and on the shared rows
    verdict = decide(whole, {"auc": 0.85}, rules, compared=shared, shared=SharedCount(212, 1045))
    assert verdict["promoted"] and "auc 0.9000 vs production 0.8500" in verdict["reason"]
    assert verdict["reason"].endswith("; compared on 212 of this run's 1,045 test rows, those production's split also "
                                      "held out")
    assert verdict["shared_rows"] == {"rows": 212, "test_rows": 1045, "note": None}
    same = decide(shared, {"auc": 0.85}, rules, compared=shared, shared=SharedCount(1045, 1045))
    assert "compared on" not in same["reason"]  # every test row shared: nothing to add
    noted = decide(shared, {"auc": 0.85}, rules, compared=shared, shared=SharedCount(1045, 1045, "production recorded "
                                                                                     "no split rule"))
    assert noted["reason"].endswith("; production recorded no split rule")
    none = decide(shared, None, rules, shared=SharedCount(0, 1045))
    assert not none["promoted"] and none["reason"].startswith("not compared with production: none of this run's 1,045 "
                                                              "test rows is a test row of production's split")


def test_shared_rows_of_one_class_are_not_a_comparison_and_never_promote() -> None:
    """An AUC needs both classes: on shared rows holding one class the comparison is undefined (NaN), every bootstrap
    resample too, and the candidate is refused with a line saying why, never promoted on `nan vs nan`."""
    from eagergraph.registry.gate import SharedCount

    y = np.ones(40, dtype=np.int64)  # every shared row positive
    rng = np.random.default_rng(0)
    interval = paired_interval("binary", "auc", y, rng.random(40), rng.random(40), seed=1)
    assert np.isnan(interval.difference) and np.isnan(interval.low) and np.isnan(interval.high)
    shared = {"auc": roc_auc(y, rng.random(40))}
    assert np.isnan(shared["auc"])
    verdict = decide(BINARY, {**BINARY, "auc": float("nan")}, rules_of(), compared=shared, interval=interval,
                     shared=SharedCount(40, 200))
    assert not verdict["promoted"]
    assert verdict["reason"].startswith("not compared with production: auc (this run) nan, auc (production) nan on the "
                                        "40 shared test rows")

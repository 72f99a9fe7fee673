"""The metric catalogue and each task's metrics, on small cases worked out by hand; the accumulators fed in
uneven blocks against the metrics' definitions (brute-force pairwise AUC) and against one block."""

from __future__ import annotations

import math

import numpy as np
import pytest

from eagergraph.accumulators import (
    BinaryAccumulator,
    MulticlassAccumulator,
    RegressionAccumulator,
    binary_metrics,
    multiclass_metrics,
    regression_metrics,
)
from eagergraph.auc import AucCounts, roc_auc, score_keys
from eagergraph.metrics import CATALOGUE, GATE_DEFAULT, RANK_BY, TASKS, metric, metrics_for

# Uneven ways to cut 300 rows into blocks: whole, a single row first, an empty block, ragged sizes.
SPLITS = [(300,), (1, 299), (0, 7, 93, 1, 0, 199), (150, 150), (13,) * 23 + (1,)]


def test_every_task_has_its_gate_metric_and_every_metric_a_task():
    for task in TASKS:
        assert GATE_DEFAULT[task] in {m.name for m in metrics_for(task)}
        assert RANK_BY[task][0] == GATE_DEFAULT[task] and set(RANK_BY[task]) <= {m.name for m in metrics_for(task)}
    assert all(m.tasks and set(m.tasks) <= set(TASKS) for m in CATALOGUE)
    assert len({m.name for m in CATALOGUE}) == len(CATALOGUE)


def test_direction_decides_what_improvement_means():
    assert metric("rmse").improvement(2.0, 3.0) == pytest.approx(1.0)  # lower RMSE is better
    assert metric("auc").improvement(0.8, 0.9) == pytest.approx(-0.1)  # lower AUC is worse
    assert metric("r2").show(None) == "–" and metric("rmse").show(1.23456) == "1.2346"


def test_auc_counts_ties_half():
    # positives score 0.8 and 0.5, negatives 0.5 and 0.1: pairs (0.8>0.5, 0.8>0.1, 0.5=0.5, 0.5>0.1) = 3.5 of 4
    assert roc_auc(np.array([1, 1, 0, 0]), np.array([0.8, 0.5, 0.5, 0.1])) == pytest.approx(0.875)


def test_binary_metrics_clip_probabilities_that_overshoot():
    # float32 rounding can give 1.0000001; the log loss must stay finite and accuracy/auc within [0, 1]
    scores = binary_metrics(np.array([1, 0]), np.array([1.0000001, -1e-8]))
    assert scores["accuracy"] == 1.0 and scores["auc"] == 1.0
    assert math.isfinite(scores["loss"]) and scores["loss"] == pytest.approx(-math.log(1 - 1e-7), rel=1e-3)


def test_multiclass_metrics_on_a_case_worked_by_hand():
    y = np.array([0, 0, 1, 1, 2, 2])
    p = np.array([[.7, .2, .1], [.4, .5, .1], [.1, .8, .1], [.2, .6, .2], [.1, .1, .8], [.5, .2, .3]])
    scores = multiclass_metrics(y, p)
    assert scores["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert scores["accuracy"] == pytest.approx(4 / 6)
    # F1: class 0: 2·1/(2+2) = 0.5; class 1: 2·2/(2+3) = 0.8; class 2: 2·1/(2+1) = 2/3
    assert scores["macro_f1"] == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)
    assert scores["loss"] == pytest.approx(-np.mean(np.log([.7, .4, .8, .6, .8, .3])))
    # one-vs-rest: class 0 scores .7, .4 against .1 .2 .1 .5 win 7 of 8 pairs; classes 1 and 2 win all 8
    assert scores["macro_auc"] == pytest.approx((7 / 8 + 1 + 1) / 3)


def test_regression_metrics_against_the_mean_and_a_perfect_model():
    y = np.array([1.0, 2.0, 3.0, 6.0])
    perfect = regression_metrics(y, y, train_mean=2.0)
    assert perfect["rmse"] == 0.0 and perfect["mae"] == 0.0 and perfect["r2"] == 1.0
    at_mean = regression_metrics(y, np.full(4, 3.0), train_mean=3.0)
    assert at_mean["r2"] == pytest.approx(0.0)
    assert at_mean["rmse"] == pytest.approx(math.sqrt((4 + 1 + 0 + 9) / 4)) == pytest.approx(at_mean["baseline_rmse"])
    assert at_mean["mae"] == pytest.approx(1.5)


# ---------------------------------------------------------------- accumulators fed block by block


def _blocks(sizes: tuple[int, ...], *arrays: np.ndarray) -> list[tuple[np.ndarray, ...]]:
    """The arrays cut into consecutive blocks of the given sizes (they sum to the arrays' length)."""
    assert sum(sizes) == len(arrays[0])
    cuts = np.cumsum((0, *sizes))
    return [tuple(a[start:end] for a in arrays) for start, end in zip(cuts[:-1], cuts[1:])]


def _pairwise_auc(positive: np.ndarray, score: np.ndarray) -> float:
    """The AUC by its definition: the share of (positive, negative) pairs whose scores are ordered right, ties half."""
    pos, neg = score[positive], score[~positive]
    return float(np.mean([(a > b) + 0.5 * (a == b) for a in pos for b in neg]))


def _tied_scores(rng: np.random.Generator, n: int = 300) -> tuple[np.ndarray, np.ndarray]:
    """Labels and float32 scores on a grid of 12 values: many ties, within and across the classes."""
    positive = rng.random(n) < 0.4
    score = (np.clip(rng.integers(0, 9, n) + 3 * positive, 0, 11) / 11).astype(np.float32)
    return positive, score


def test_keys_keep_the_order_of_the_scores_and_zero_is_one_value():
    values = np.array([-np.inf, -2.5, -1e-30, -0.0, 0.0, 1e-30, 0.3, 1.0, np.inf, np.nan], dtype=np.float32)
    keys = score_keys(values).astype(np.int64)
    assert keys[3] == keys[4]  # -0.0 and 0.0 are one score: they tie
    assert np.all(np.diff(np.delete(keys, 3)) > 0)  # every other step up is a step up


def test_streamed_auc_is_exact_with_many_ties_whatever_the_blocks():
    positive, score = _tied_scores(np.random.default_rng(7))
    exact = _pairwise_auc(positive, score)
    assert 0.6 < exact < 1.0  # a case with something to get wrong
    for sizes in SPLITS:
        counts = AucCounts()
        for block in _blocks(sizes, positive, score):
            counts.update(*block)
        assert counts.auc() == pytest.approx(exact, rel=1e-12) and counts.max_error() == 0.0, sizes
    assert roc_auc(positive, score) == pytest.approx(exact, rel=1e-12)


def test_a_split_missing_a_class_has_an_undefined_auc_that_the_gate_refuses():
    counts = AucCounts().update(np.ones(5, dtype=bool), np.linspace(0, 1, 5))
    assert math.isnan(counts.auc()) and counts.max_error() == 0.0
    only_positives = binary_metrics(np.ones(6), np.linspace(0.1, 0.9, 6))
    assert math.isnan(only_positives["auc"]) and only_positives["accuracy"] == 0.5  # 3 of 6 above 0.5
    one_class = multiclass_metrics(np.zeros(4, dtype=np.int64), np.full((4, 3), 1 / 3))
    assert math.isnan(one_class["macro_auc"])
    from eagergraph.registry.gate import decide, rules_of

    verdict = decide({"loss": 0.3, "accuracy": 0.9, "auc": only_positives["auc"], "precision": 0.9, "recall": 0.9},
                     None, rules_of())
    assert not verdict["promoted"] and "not a finite number: auc nan" in verdict["reason"]


def test_past_the_cap_scores_share_bins_and_the_error_stays_within_the_reported_bound():
    rng = np.random.default_rng(11)
    positive = rng.random(300) < 0.5
    score = (rng.random(300) * 0.6 + 0.4 * positive).astype(np.float32)  # 300 distinct scores, overlapping classes
    exact = _pairwise_auc(positive, score)
    for sizes in SPLITS:
        counts = AucCounts(cap=8)
        for block in _blocks(sizes, positive, score):
            counts.update(*block)
        bound = counts.max_error()
        assert len(counts.keys) <= 8 and counts.shift > 0, sizes
        assert 0.0 < bound < 0.5 and abs(counts.auc() - exact) <= bound, (sizes, counts.auc(), exact, bound)


def test_binary_accumulator_over_blocks_equals_one_block():
    rng = np.random.default_rng(3)
    positive, score = _tied_scores(rng)
    labels = positive.astype(np.int8)
    whole = binary_metrics(labels, score)
    assert whole["auc"] == pytest.approx(_pairwise_auc(positive, score), rel=1e-12)
    for sizes in SPLITS:
        total = BinaryAccumulator()
        for block in _blocks(sizes, labels, score):
            total.update(*block)
        assert total.result() == pytest.approx(whole, rel=1e-12, abs=1e-15), sizes
        assert total.bounds() == {"auc_max_error": 0.0}


def _class_probabilities(rng: np.random.Generator, n: int = 300, k: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Class codes 0..k-1 and probabilities that lean to the true class, rounded to two decimals (ties)."""
    y = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k)) + 1.5 * np.eye(k)[y]
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return y, np.round(p, 2).astype(np.float32)


def test_multiclass_accumulator_over_blocks_equals_one_block_and_the_definition():
    y, p = _class_probabilities(np.random.default_rng(5))
    whole = multiclass_metrics(y, p)
    assert whole["macro_auc"] == pytest.approx(np.mean([_pairwise_auc(y == c, p[:, c]) for c in range(4)]), rel=1e-12)
    for sizes in SPLITS:
        total = MulticlassAccumulator()
        for block in _blocks(sizes, y, p):
            total.update(*block)
        streamed = total.result()
        assert streamed.pop("confusion_matrix") == whole["confusion_matrix"], sizes
        assert streamed == pytest.approx({k: v for k, v in whole.items() if k != "confusion_matrix"}, rel=1e-12), sizes
        assert total.bounds() == {"auc_max_error": 0.0}


def test_multiclass_macro_auc_past_the_cap_is_within_its_bound():
    rng = np.random.default_rng(9)
    y = rng.integers(0, 3, 300)
    logits = rng.normal(size=(300, 3)) + np.eye(3)[y]
    p = (np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)).astype(np.float32)  # no rounding: distinct
    exact = np.mean([_pairwise_auc(y == c, p[:, c]) for c in range(3)])
    total = MulticlassAccumulator(cap=4)
    for block in _blocks((0, 7, 93, 1, 0, 199), y, p):
        total.update(*block)
    bound = total.bounds()["auc_max_error"]
    assert 0.0 < bound and abs(total.result()["macro_auc"] - exact) <= bound


def test_regression_accumulator_over_blocks_equals_one_block():
    rng = np.random.default_rng(1)
    y = rng.normal(50.0, 10.0, 300)
    predicted = y + rng.normal(0.0, 3.0, 300)
    whole = regression_metrics(y, predicted, train_mean=48.0)
    for sizes in SPLITS:
        total = RegressionAccumulator(train_mean=48.0)
        for block in _blocks(sizes, y, predicted):
            total.update(*block)
        assert total.result() == pytest.approx(whole, rel=1e-10), sizes
        assert total.bounds() == {}


def test_regression_r2_stays_exact_when_the_mean_dwarfs_the_spread():
    """The worked case above, a billion higher: Σy² - n·ȳ² would lose every digit of the total sum of squares."""
    y = 1e9 + np.array([1.0, 2.0, 3.0, 6.0])
    total = RegressionAccumulator(train_mean=1e9 + 3.0)
    for block in _blocks((1, 2, 1), y, np.full(4, 1e9 + 3.0)):
        total.update(*block)
    scores = total.result()
    assert scores["r2"] == pytest.approx(0.0, abs=1e-12)
    assert scores["rmse"] == pytest.approx(math.sqrt(14 / 4)) == pytest.approx(scores["baseline_rmse"])
    assert scores["mae"] == pytest.approx(1.5)

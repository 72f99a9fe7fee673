"""The metric catalogue and each task's metrics, on small cases worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from eagergraph.metrics import (
    CATALOGUE,
    GATE_DEFAULT,
    TASKS,
    binary_metrics,
    metric,
    metrics_for,
    multiclass_metrics,
    regression_metrics,
    roc_auc,
)


def test_every_task_has_its_gate_metric_and_every_metric_a_task():
    for task in TASKS:
        assert GATE_DEFAULT[task] in {m.name for m in metrics_for(task)}
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

"""The stopping decision both modes make after each epoch: early stopping on the monitored loss with a patience
and a relative min_delta, and an immediate stop on divergence."""

from __future__ import annotations

import math

from eagergraph.core.stopping import DIVERGENCE_FACTOR, MIN_DELTA, Stopping, improved


def _run(patience: int, losses: list[float], monitored: list[float] | None = None) -> Stopping:
    """Feed epochs until the rule says stop; the state after."""
    stopping = Stopping(patience)
    for epoch, (loss, watched) in enumerate(zip(losses, monitored or losses, strict=True), start=1):
        if stopping.update(epoch, loss, watched):
            break
    return stopping


def test_training_stops_after_patience_epochs_without_improvement_and_keeps_the_best() -> None:
    stopping = _run(2, [1.0, 0.9, 0.8, 0.7, 0.6, 0.5], monitored=[1.0, 0.8, 0.85, 0.81, 0.5, 0.4])
    assert stopping.best_epoch == 2 and stopping.best == 0.8
    assert stopping.reason == "no improvement for 2 epochs" and stopping.waited == 2


def test_an_improvement_within_rounding_is_no_improvement() -> None:
    # The modes' losses agree to float rounding; an improvement must be larger than MIN_DELTA relative to count.
    assert not improved(1.0 - MIN_DELTA / 10, 1.0) and improved(1.0 - 2 * MIN_DELTA, 1.0)
    assert improved(5.0, math.inf) and not improved(math.nan, math.inf)
    stopping = _run(3, [1.0, 1.0 - 1e-7, 1.0 - 2e-7, 1.0 - 3e-7])
    assert stopping.best_epoch == 1 and stopping.reason == "no improvement for 3 epochs"


def test_a_non_finite_loss_stops_at_once_with_the_best_epoch_kept() -> None:
    stopping = _run(10, [1.0, 0.5, math.nan, 0.1])
    assert stopping.best_epoch == 2 and stopping.reason == "diverged at epoch 3 (loss nan)"
    first = _run(10, [math.inf])
    assert first.best_epoch == 0 and first.reason == "diverged at epoch 1 (loss inf)"  # no weights to keep
    weights = Stopping(10)
    assert weights.update(1, 0.5, 0.5, weights_finite=False) == "diverged at epoch 1 (weights not finite)"
    assert weights.best_epoch == 0


def test_a_loss_far_above_its_best_is_a_divergence_and_a_non_finite_validation_loss_too() -> None:
    stopping = _run(10, [1.0, 0.2, 0.2 * DIVERGENCE_FACTOR * 1.01])
    assert stopping.best_epoch == 2 and stopping.reason.startswith("diverged at epoch 3 (loss 2.02, more than 10× its best 0.2")
    assert _run(10, [1.0, 0.2, 0.2 * DIVERGENCE_FACTOR * 0.99]).reason is None  # below the factor: it goes on
    assert _run(10, [1.0, 0.5], monitored=[1.0, math.nan]).reason == "diverged at epoch 2 (validation loss nan)"


def test_without_a_patience_only_divergence_stops_training() -> None:
    stopping = _run(math.inf, [1.0] * 50)  # train() with patience None: the epochs run to their maximum
    assert stopping.reason is None and stopping.best_epoch == 1


def test_a_near_perfect_fit_that_ticks_up_has_not_diverged() -> None:
    """Ten times a tiny best is still a tiny loss: the factor applies above a floor, not to 1e-6 → 1e-5."""
    assert _run(10, [1.0, 1e-6, 1e-5]).reason is None
    assert _run(10, [1.0, 1e-6, 0.5]).reason.startswith("diverged at epoch 3")  # far above the floor: diverged

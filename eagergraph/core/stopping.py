"""When training stops, decided the same way in both modes: early stopping on a monitored loss, and divergence.

Keras' `EarlyStopping(monitor="val_loss", patience=..., restore_best_weights=True)` and `TerminateOnNaN` are the
semantics followed, checked once per epoch (a compiled graph runs a whole epoch in one call). The decision reads only
numbers both modes produce identically or to float rounding (the epoch's mean training loss, the validation loss
computed by one function for both), and an improvement must beat the best by a relative MIN_DELTA, far above
rounding, so eager and graph stop at the same epoch unless their losses sit within rounding of the boundary (then
run parity shows the two stop epochs). Pure Python: no TensorFlow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MIN_DELTA = 1e-4  # relative: an epoch improves when its loss is below best × (1 − MIN_DELTA); rounding is ~1e-7
DIVERGENCE_FACTOR = 10.0  # a training loss this many times its best means the run diverged
# ...but never below this: a near-perfect fit whose loss ticks from 1e-6 to 1e-5 has not diverged (the losses are
# of a standardized target or a class probability, so 0.01 is already a very good fit)
DIVERGENCE_FLOOR = 0.01


@dataclass
class Stopping:
    """Per-epoch stopping state. `update` takes an epoch's training loss and monitored loss (the validation loss,
    or the training loss when there is no validation split) and says why training stops now, or None."""

    patience: float  # epochs; math.inf: never early
    best: float = math.inf  # the best monitored loss so far
    best_epoch: int = 0  # 1-based; 0 while no epoch ended finite: there are no weights to keep
    best_loss: float = math.inf  # the best training loss so far (the divergence reference)
    waited: int = 0
    reason: str | None = None

    def update(self, epoch: int, loss: float, monitored: float, weights_finite: bool = True) -> str | None:
        """Record epoch `epoch` (1-based); the reason training stops after it, or None to go on."""
        broken = (f"loss {loss:.4g}" if not math.isfinite(loss) else f"validation loss {monitored:.4g}"
                  if not math.isfinite(monitored) else None if weights_finite else "weights not finite")
        if broken:
            self.reason = f"diverged at epoch {epoch} ({broken})"
            return self.reason
        if loss > DIVERGENCE_FACTOR * max(self.best_loss, DIVERGENCE_FLOOR):
            self.reason = (f"diverged at epoch {epoch} (loss {loss:.4g}, more than {DIVERGENCE_FACTOR:g}× its best "
                           f"{self.best_loss:.4g})")
            return self.reason
        self.best_loss = min(self.best_loss, loss)
        if improved(monitored, self.best):
            self.best, self.best_epoch, self.waited = monitored, epoch, 0
            return None
        self.waited += 1
        if self.waited >= self.patience:
            self.reason = f"no improvement for {self.patience} epoch{'s' if self.patience != 1 else ''}"
            return self.reason
        return None


def improved(loss: float, best: float, min_delta: float = MIN_DELTA) -> bool:
    """Whether `loss` beats `best` by more than the relative `min_delta` (any finite loss beats no best)."""
    return loss < best - min_delta * abs(best) if math.isfinite(best) else math.isfinite(loss)

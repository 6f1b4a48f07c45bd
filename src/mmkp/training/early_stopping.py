"""Early stopping on a dev quantity: lower is better for "loss", higher for metrics.

The best epoch (whose checkpoint is kept) is the best raw value. Stopping can look at a
moving average instead (`smoothing` epochs): a dev F1 that moves about a point from epoch to
epoch then stops the run when the trend has flattened, not at the first unlucky epoch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class EarlyStopping:
    """Tracks the best dev value; `should_stop` after `patience` epochs in which the mean of
    the last `smoothing` values did not improve (smoothing 1: the raw value)."""

    monitor: str
    patience: int
    smoothing: int = 1
    best: float | None = None
    best_epoch: int | None = None
    bad_epochs: int = 0
    values: list[float] = field(default_factory=list)
    best_smoothed: float | None = None

    @property
    def lower_is_better(self) -> bool:
        return self.monitor == "loss"

    @property
    def should_stop(self) -> bool:
        return self.bad_epochs >= self.patience

    def _better(self, value: float, than: float | None) -> bool:
        return than is None or (value < than if self.lower_is_better else value > than)

    def update(self, value: float, epoch: int) -> bool:
        """Record the value of `epoch`; True when it is a new best (strictly better)."""
        self.values.append(value)
        window = self.values[-self.smoothing :]
        smoothed = sum(window) / len(window)
        if self._better(smoothed, self.best_smoothed):
            self.best_smoothed, self.bad_epochs = smoothed, 0
        else:
            self.bad_epochs += 1
        if self._better(value, self.best):
            self.best, self.best_epoch = value, epoch
            return True
        return False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EarlyStopping:
        return cls(**data)

"""Early stopping on a dev quantity: lower is better for "loss", higher for metrics."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class EarlyStopping:
    """Tracks the best dev value; `should_stop` after `patience` epochs without improvement."""

    monitor: str
    patience: int
    best: float | None = None
    best_epoch: int | None = None
    bad_epochs: int = 0

    @property
    def lower_is_better(self) -> bool:
        return self.monitor == "loss"

    @property
    def should_stop(self) -> bool:
        return self.bad_epochs >= self.patience

    def update(self, value: float, epoch: int) -> bool:
        """Record the value of `epoch`; True when it is a new best (strictly better)."""
        if self.best is None or (value < self.best if self.lower_is_better else value > self.best):
            self.best, self.best_epoch, self.bad_epochs = value, epoch, 0
            return True
        self.bad_epochs += 1
        return False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EarlyStopping:
        return cls(**data)

"""One pass over batches: optimise (train) or only measure (dev) the requested loss terms.

With several processes (`mmkp.training.distributed`) each sees its share of the batches and
the pass's sums are gathered, so every rank reports the whole split's means."""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

import torch
from tqdm import tqdm

from mmkp.data.batch import Batch
from mmkp.model.outputs import Losses
from mmkp.model.protocol import KeyphraseModel
from mmkp.training.device import Hardware
from mmkp.training.distributed import SINGLE, Distributed


@dataclass
class PassResult:
    """Row-weighted mean losses of one pass over a split."""

    loss: float
    terms: dict[str, float] = field(default_factory=dict)
    pairs: int = 0
    seconds: float = 0.0

    @property
    def pairs_per_s(self) -> float:
        return self.pairs / self.seconds if self.seconds > 0 else 0.0


class _Mean:
    """Running row-weighted means of the total loss and of each term present."""

    def __init__(self) -> None:
        self.rows = 0
        self.sums: dict[str, float] = {}

    def add(self, losses: Losses, rows: int) -> None:
        self.rows += rows
        values = {"loss": float(losses.total.detach())}
        values.update({name: float(term.detach()) for name, term in losses.items()})
        for name, value in values.items():
            self.sums[name] = self.sums.get(name, 0.0) + value * rows

    def gathered(self, distributed: Distributed) -> _Mean:
        """The sums and rows of every rank's share, added up."""
        total = _Mean()
        for rows, sums in distributed.gather((self.rows, self.sums)):
            total.rows += rows
            for name, value in sums.items():
                total.sums[name] = total.sums.get(name, 0.0) + value
        return total

    def mean(self, name: str = "loss") -> float:
        return self.sums.get(name, 0.0) / max(self.rows, 1)

    def result(self, seconds: float) -> PassResult:
        terms = {name: self.mean(name) for name in self.sums if name != "loss"}
        return PassResult(self.mean(), terms, self.rows, seconds)


def train_epoch(
    model: KeyphraseModel,
    batches: Iterable[Batch],
    optimizer: torch.optim.Optimizer,
    *,
    terms: Collection[str],
    grad_clip: float,
    total: int,
    desc: str,
    hardware: Hardware,
    scaler: torch.amp.GradScaler | None = None,
    distributed: Distributed = SINGLE,
) -> PassResult:
    """One epoch of Adam steps on the sum of `terms`; a progress bar shows loss and pairs/s.

    With a `scaler` (fp16) the loss is scaled before backward and the gradients unscaled
    before clipping, so the clipping norm means the same as in fp32. With several processes
    `model` is the DDP-wrapped model, `batches` this rank's rows of each global batch, and
    each rank's loss is weighted by its share of the batch (`Distributed.loss_weight`)."""
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    mean, start = _Mean(), time.perf_counter()
    quiet = None if distributed.is_main else True  # tqdm's None: shown on a terminal
    with tqdm(total=total, desc=desc, unit="batch", leave=False, disable=quiet) as bar:
        for batch in batches:
            losses = train_step(
                model,
                batch,
                optimizer,
                params,
                terms=terms,
                grad_clip=grad_clip,
                hardware=hardware,
                scaler=scaler,
                distributed=distributed,
            )
            mean.add(losses, batch.size)
            elapsed = time.perf_counter() - start
            bar.set_postfix(loss=f"{mean.mean():.4f}", pairs_s=f"{mean.rows / elapsed:.0f}")
            bar.update()
    return mean.gathered(distributed).result(time.perf_counter() - start)


def train_step(
    model: KeyphraseModel,
    batch: Batch,
    optimizer: torch.optim.Optimizer,
    params: list[torch.nn.Parameter],
    *,
    terms: Collection[str],
    grad_clip: float,
    hardware: Hardware,
    scaler: torch.amp.GradScaler | None = None,
    distributed: Distributed = SINGLE,
) -> Losses:
    """One Adam step on the sum of `terms` over `batch` (`train_epoch`'s, and what
    benchmarks/speed_train.py times); `params` are the ones clipped. Returns the losses."""
    optimizer.zero_grad(set_to_none=True)
    with hardware.autocast():
        losses = model(hardware.to_device(batch), terms)
    loss = losses.total
    if distributed.enabled:
        loss = loss * distributed.loss_weight(batch.size)
    if scaler is None:
        loss.backward()
    else:
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
    if grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(params, grad_clip)
    if scaler is None:
        optimizer.step()
    else:
        scaler.step(optimizer)  # skipped when the scaled gradients overflowed
        scaler.update()
    return losses


@torch.no_grad()
def evaluate_loss(
    model: KeyphraseModel,
    batches: Iterable[Batch],
    *,
    terms: Collection[str],
    hardware: Hardware,
    distributed: Distributed = SINGLE,
) -> PassResult:
    """Mean loss of `terms` without dropout or gradients (the dev loss); with several
    processes, over every rank's share of `batches`."""
    model.eval()
    mean, start = _Mean(), time.perf_counter()
    for batch in batches:
        with hardware.autocast():
            losses = model(hardware.to_device(batch), terms)
        mean.add(losses, batch.size)
    return mean.gathered(distributed).result(time.perf_counter() - start)

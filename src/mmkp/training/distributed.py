"""Training on several processes: `torchrun --nproc-per-node N -m mmkp train --config F`.

torchrun starts N copies of `mmkp train` and tells each its place through the environment
(RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/PORT); `Distributed.from_env` is the one place that
reads it (nanoGPT's `ddp = int(os.environ.get("RANK", -1)) != -1`). Without torchrun the run
is a single process and nothing here changes it.

What each rank does (docs/training.md, "Several processes"):

- the same global batches as one process, each batch's rows dealt across the ranks
  (`split_batches`); the loss of rank r's share is weighted by n_r · N_ranks / n, so the
  gradients DDP averages equal one process's gradient of the whole batch;
- the dev split in whole batches dealt round-robin (`deal_batches`), the sums and
  predictions gathered, so every rank sees the same dev row, and early stopping, learning-rate
  decay and checkpoint choices agree; the dev metrics equal one process's exactly;
- only rank 0 (`is_main`) writes checkpoints, metrics, plots and logs; every rank's random
  state is gathered into the checkpoint it writes.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, NoReturn, TypeVar

import torch
import torch.distributed as dist
from torch import nn

from mmkp.training.device import Hardware

T = TypeVar("T")


@dataclass(frozen=True)
class Distributed:
    """This process's place among the training processes; the default is a single process."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @classmethod
    def from_env(cls) -> Distributed:
        """The place torchrun gave this process, or a single process without torchrun."""
        if int(os.environ.get("RANK", -1)) == -1:
            return cls()
        try:
            rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
            local = int(os.environ.get("LOCAL_RANK", rank))
        except (KeyError, ValueError) as exc:
            raise ValueError(
                f"RANK is set but WORLD_SIZE/LOCAL_RANK are missing or not integers ({exc}): "
                "start distributed training with torchrun"
            ) from exc
        return cls(rank, world, local)

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that writes files and logs."""
        return self.rank == 0

    @contextmanager
    def session(self, hardware: Hardware) -> Iterator[Hardware]:
        """The process group for the run (nccl on CUDA, gloo on the CPU) and this rank's
        hardware: on CUDA, the GPU of its local rank. Other ranks log warnings only."""
        if not self.enabled:
            yield hardware
            return
        if hardware.is_cuda:
            hardware = replace(hardware, device=torch.device("cuda", self.local_rank))
            torch.cuda.set_device(hardware.device)
        dist.init_process_group(backend="nccl" if hardware.is_cuda else "gloo")
        if not self.is_main:
            logging.getLogger("mmkp").setLevel(logging.WARNING)
        try:
            yield hardware
            # gloo's worker threads drop a finished collective's tensors after the caller has
            # moved on, and a tensor Python has seen needs the GIL to go; a thread that asks
            # for it while the interpreter exits aborts the process ("terminate called
            # without an active exception"). Waiting here releases the GIL, which is enough
            # unless the machine is loaded; `end_rank` closes the rest.
            self.barrier()
        finally:
            dist.destroy_process_group()

    def seed(self, seed: int) -> None:
        """Different dropout on each rank (as one process draws different masks for the rows
        of a batch); called after the model is built, so all ranks build the same one."""
        if self.enabled:
            torch.manual_seed(seed + self.rank)

    def wrap(self, model: nn.Module) -> nn.Module:
        """The model the training pass calls: DDP synchronises gradients in backward. Unused
        parameters are allowed (a D_itm batch trains L_itm only); encode/step and the
        checkpoints use the unwrapped model."""
        if not self.enabled:
            return model
        cuda = next(model.parameters()).is_cuda
        ids = [self.local_rank] if cuda else None
        return nn.parallel.DistributedDataParallel(
            model, device_ids=ids, find_unused_parameters=True
        )

    # -- the data ------------------------------------------------------------------------
    def split_batches(self, groups: list[list[int]]) -> list[list[int]]:
        """Each global batch's rows dealt across the ranks (rows r, r+N, ...: length-sorted
        batches stay balanced). A batch with fewer rows than ranks repeats rows, as torch's
        DistributedSampler pads, since every rank must take every step."""
        if not self.enabled:
            return groups
        rank, world = self.rank, self.world_size
        return [g[rank::world] if len(g) >= world else [g[rank % len(g)]] for g in groups]

    def deal_batches(self, groups: list[list[int]]) -> list[list[int]]:
        """Whole batches dealt round-robin (the dev split: each batch as one process sees it)."""
        return groups if not self.enabled else groups[self.rank :: self.world_size]

    def loss_weight(self, rows: int) -> float:
        """The weight of this rank's mean loss over `rows` rows, so that DDP's average of the
        ranks' gradients is the gradient of the mean over the global batch."""
        total = torch.tensor([rows], dtype=torch.float64)
        dist.all_reduce(total)
        return rows * self.world_size / float(total)

    # -- collectives ---------------------------------------------------------------------
    def gather(self, value: T) -> list[T]:
        """Every rank's `value` (any picklable object), by rank, on every rank."""
        if not self.enabled:
            return [value]
        values: list[Any] = [None] * self.world_size
        dist.all_gather_object(values, value)
        return values

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()


SINGLE = Distributed()  # one process: no collective, nothing changes


def end_rank(code: int) -> NoReturn:
    """End a torchrun rank's process with `code`, its logs and output flushed, without the
    interpreter's finalisation. DDP keeps the process group alive past
    `destroy_process_group`, so gloo's worker threads are never joined, and one still
    dropping a collective's tensors when finalisation starts asks for the GIL and aborts the
    process (SIGABRT, 1 run in ~8 on a loaded machine; benchmarks/RESULTS.md, "DDP on
    gloo"). Every file the run writes is complete by then (written atomically)."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)

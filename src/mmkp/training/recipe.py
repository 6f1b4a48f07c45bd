"""The recipe protocol (setup, train, save_checkpoint) and the epoch loop both stages share.

A stage directory holds `last/` (resumable: trainer state, optimizer, RNG), `best/` (the
best epoch on the dev split), `metrics.jsonl` and `curves.png`. A stage subclass says what it
optimises (`terms`), how its model starts (`build_model`), which parameters it trains and
what it predicts on dev posts for metric-based early stopping.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ClassVar, Protocol

import numpy as np
import torch
from safetensors.torch import load_model

from mmkp.config import ExperimentConfig, StageConfig
from mmkp.data.batch import Batch
from mmkp.evaluation.metrics import evaluate
from mmkp.model.mmkp import MMKP
from mmkp.training.checkpoint import (
    MODEL_FILE,
    TrainerState,
    read_trainer_state,
    restore_training,
    save_checkpoint,
)
from mmkp.training.curves import plot_curves, write_metrics
from mmkp.training.data import TrainingData
from mmkp.training.early_stopping import EarlyStopping
from mmkp.training.loop import PassResult, evaluate_loss, train_epoch

log = logging.getLogger("mmkp.training")
EpochCallback = Callable[[str, int], None]  # (stage name, finished epoch), e.g. to interrupt


class Recipe(Protocol):
    def setup(self) -> None: ...

    def train(self) -> None: ...

    def save_checkpoint(self, *, best: bool) -> None: ...


def seed_everything(seed: int, *, threads: int) -> None:
    """Same seed, same thread count -> the same run, bit for bit, on CPU."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)


class StageRecipe:
    """Train one stage with Adam, gradient clipping and early stopping on the dev split."""

    name: ClassVar[str]
    terms: ClassVar[frozenset[str]]

    def __init__(
        self,
        config: ExperimentConfig,
        out_dir: str | Path,
        data: TrainingData,
        *,
        resume: bool = False,
        on_epoch_end: EpochCallback | None = None,
    ) -> None:
        self.config = config
        self.dir = Path(out_dir) / self.name
        self.data = data
        self.resume = resume
        self.on_epoch_end = on_epoch_end

    @property
    def stage(self) -> StageConfig:
        return getattr(self.config.train, self.name)

    # -- what a stage defines -------------------------------------------------------------
    def build_model(self) -> MMKP:
        raise NotImplementedError

    def trainable(self, model: MMKP) -> list[torch.nn.Parameter]:
        return [p for p in model.parameters() if p.requires_grad]

    def dev_predictions(self) -> list[list[str]]:
        """Ranked keyphrases for each dev post (for metric-based early stopping)."""
        raise NotImplementedError

    # -- the protocol ---------------------------------------------------------------------
    def setup(self) -> None:
        seed_everything(self.config.train.seed, threads=self.config.train.threads)
        self.model = self.build_model()
        self.optimizer = torch.optim.Adam(self.trainable(self.model), lr=self.stage.lr)
        self.state = TrainerState(stage=self.name, epoch=0)
        self.stopper = EarlyStopping(self.stage.monitor, self.stage.patience)
        last = self.dir / "last"
        if self.resume and (saved := read_trainer_state(last)) is not None:
            load_model(self.model, str(last / MODEL_FILE))
            restore_training(last, self.optimizer)
            self.state = saved
            self.stopper = EarlyStopping.from_dict(saved.early_stopping)
            log.info("%s: resuming after epoch %d from %s", self.name, saved.epoch, last)
        elif last.exists():
            raise ValueError(
                f"{last} already exists: pass --resume to continue that run, or choose a new --out"
            )

    def train(self) -> None:
        trained = set(self.state.trained_parameters)
        for epoch in range(self.state.epoch + 1, self.stage.epochs + 1):
            if self.state.finished or self.stopper.should_stop:
                break
            shuffle_seed = self.config.train.seed * 100_003 + epoch
            result = train_epoch(
                self.model,
                self.data.batches(
                    self.data.train_examples,
                    self.stage.batch_size,
                    seed=shuffle_seed,
                    by_length=self.config.train.by_length,
                ),
                self.optimizer,
                terms=self.terms,
                grad_clip=self.stage.grad_clip,
                total=-(-len(self.data.train_examples) // self.stage.batch_size),
                desc=f"{self.name} epoch {epoch}/{self.stage.epochs}",
                on_backward=lambda m: trained.update(
                    n for n, p in m.named_parameters() if p.grad is not None
                ),
            )
            row = self._evaluate(epoch, result)
            improved = self.stopper.update(row[self._monitor_key], epoch)
            self.state.epoch = epoch
            self.state.history.append(row)
            self.state.early_stopping = self.stopper.to_dict()
            self.state.trained_parameters = sorted(trained)
            if improved:
                self.save_checkpoint(best=True)
            self.save_checkpoint(best=False)
            self._write_records()
            log.info("%s", _format_row(self.name, row, improved))
            if self.on_epoch_end is not None:
                self.on_epoch_end(self.name, epoch)
        if not self.state.finished:
            self.state.finished = True
            if self.state.epoch == 0:  # no epoch to choose from: the starting model is best
                self.save_checkpoint(best=True)
            self.save_checkpoint(best=False)

    def save_checkpoint(self, *, best: bool) -> None:
        save_checkpoint(
            self.dir / ("best" if best else "last"),
            model=self.model,
            vocab=self.data.vocab,
            labels=self.data.labels,
            config=self.config,
            trainer=self.state,
            optimizer=self.optimizer,
        )

    # -- helpers --------------------------------------------------------------------------
    @property
    def _monitor_key(self) -> str:
        return "dev_loss" if self.stage.monitor == "loss" else f"dev_{self.stage.monitor}"

    def _evaluate(self, epoch: int, train: PassResult) -> dict[str, float]:
        """The epoch's record: train and dev losses (and terms), speed, dev metrics."""
        dev = evaluate_loss(self.model, self._dev_batches(), terms=self.terms)
        row: dict[str, float] = {
            "epoch": epoch,
            "train_loss": train.loss,
            "dev_loss": dev.loss,
            "train_pairs": train.pairs,
            "train_seconds": train.seconds,
            "train_pairs_per_s": train.pairs_per_s,
            **{f"train_{k}": v for k, v in train.terms.items()},
            **{f"dev_{k}": v for k, v in dev.terms.items()},
        }
        if self.stage.monitor != "loss":
            scores = evaluate(self.dev_predictions(), self.data.dev_posts).scores
            row.update({f"dev_{k}": scores[k] for k in ("F1@1", "F1@3", "F1@5", "MAP@5")})
        return row

    def _dev_batches(self) -> Iterator[Batch]:
        return self.data.batches(
            self.data.dev_examples,
            self.config.train.eval_batch_size,
            seed=None,
            by_length=self.config.train.by_length,
        )

    def _write_records(self) -> None:
        write_metrics(self.dir / "metrics.jsonl", self.state.history)
        plot_curves(self.dir / "curves.png", self.state.history, title=f"mmkp {self.name}")


def _format_row(stage: str, row: dict[str, float], improved: bool) -> str:
    metrics = " ".join(
        f"{k}={v:.4f}" for k, v in row.items() if k != "epoch" and not k.startswith("train_")
    )
    return (
        f"{stage} epoch {int(row['epoch'])}: train_loss={row['train_loss']:.4f} {metrics} "
        f"({row['train_pairs_per_s']:.0f} pairs/s){' *best*' if improved else ''}"
    )

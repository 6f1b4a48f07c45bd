"""The stage recipe (setup, train, save_checkpoint) every stage follows, and its epoch loop.

A stage directory, OUT/<stage name>/, holds `last/` (resumable: trainer state, optimizer,
RNG), `best/` (the best epoch on the dev split), `metrics.jsonl` and `curves.png`. Everything
a stage does comes from its `StageConfig`: what it optimises (`terms`, `trainable`), how its
model starts (`warm_start`, `mmkp.training.start`), what early stopping watches (`monitor`).
A warm-started stage scores its starting model first ("epoch 0"), so it keeps the previous
stage's model unless an epoch beats it. Under torchrun the recipe trains its rank's share
(`mmkp.training.distributed`); rank 0 alone writes the stage directory and logs.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_model

from mmkp.data.batch import Batch
from mmkp.data.batching import length_sorted_batches
from mmkp.decoding.heads import Head, predict_keyphrases
from mmkp.evaluation.metrics import evaluate
from mmkp.inference.checkpoint import MODEL_FILE
from mmkp.io import recover_directory
from mmkp.model.protocol import KeyphraseModel
from mmkp.training.config import ExperimentConfig, StageConfig
from mmkp.training.curves import plot_curves, write_metrics
from mmkp.training.data import TrainingData
from mmkp.training.device import Hardware
from mmkp.training.distributed import SINGLE, Distributed
from mmkp.training.early_stopping import EarlyStopping
from mmkp.training.loop import PassResult, evaluate_loss, train_epoch
from mmkp.training.start import starting_model
from mmkp.training.state import (
    TrainerState,
    read_trainer_state,
    restore_training,
    rng_state,
    save_training_checkpoint,
)

log = logging.getLogger("mmkp.training")
EpochCallback = Callable[[str, int], None]  # (stage name, finished epoch), e.g. to interrupt


def seed_everything(seed: int, *, threads: int, hardware: Hardware) -> None:
    """Same seed, same thread count -> the same run, bit for bit, on CPU."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # every device's generator
    torch.set_num_threads(threads)
    hardware.make_deterministic()


class StageRecipe:
    """Train `config.train.stages[index]` with Adam, gradient clipping and early stopping on
    the dev split, on `hardware`'s device."""

    def __init__(
        self,
        config: ExperimentConfig,
        out_dir: str | Path,
        data: TrainingData,
        *,
        index: int,
        hardware: Hardware,
        resume: bool = False,
        on_epoch_end: EpochCallback | None = None,
        distributed: Distributed = SINGLE,
    ) -> None:
        self.config = config
        self.index = index
        self.stage: StageConfig = config.train.stages[index]
        assert self.stage.name is not None, "named by TrainConfig"
        self.name = self.stage.name
        self.dir = Path(out_dir) / self.name
        previous = config.train.stages[index - 1].name if index > 0 else None
        self.previous_best = Path(out_dir) / previous / "best" if previous else None
        self.data = data
        self.hardware = hardware
        self.resume = resume
        self.on_epoch_end = on_epoch_end
        self.distributed = distributed

    def build_model(self) -> KeyphraseModel:
        """The starting model on the device; what the stage does not train is frozen."""
        model = starting_model(
            self.stage,
            where=f"train.stages[{self.index}]",
            model=self.config.model,
            vocab=self.data.vocab,
            labels=self.data.labels,
            previous_best=self.previous_best,
        )
        return model.to(self.hardware.device)

    @property
    def head(self) -> Head:
        """What the stage's predictions come from: beam search when the stage trains the
        generator (or the model has no classifier), else the classifier's top labels."""
        trains_generator = "gen" in self.stage.terms and self.model.has_generator
        return "generator" if trains_generator or not self.model.has_classifier else "classifier"

    def dev_predictions(self) -> list[list[str]]:
        """Ranked keyphrases for each dev post (for metric-based early stopping); with several
        processes each predicts its share of the batches and all gather every post's."""
        self.model.eval()
        data, head = self.data, self.head
        # Model selection leaves out the MiniLM rerank term (`decode.semantic_weight`): a
        # prediction-time rerank of the candidates, so a stage picks the same epochs, and
        # trains the same model, whatever that term's weight (docs/decoding.md)
        decode = replace(self.config.decode, semantic_weight=0.0)

        examples = data.dev_post_examples
        ranked: list[list[str]] = [[] for _ in examples]
        batches = length_sorted_batches(
            examples,
            self.config.train.eval_batch_size,
            grid_lookup=data.grid_lookup,
            neighbours=data.dev_neighbours,
            sentences=data.dev_sentences,
            shard=self.distributed.deal_batches,
        )
        for rows, batch in batches:
            with self.hardware.autocast():
                keyphrases = predict_keyphrases(
                    self.model,
                    self.hardware.to_device(batch),
                    data.vocab,
                    data.labels,
                    decode,
                    head=head,
                )
            for i, row in zip(rows, keyphrases, strict=True):
                ranked[i] = [kp.text for kp in row]
        if self.distributed.enabled:
            shares = self.distributed.gather({i: r for i, r in enumerate(ranked) if r})
            for share in shares:
                for i, row in share.items():
                    ranked[i] = row
        return ranked

    # -- the protocol ---------------------------------------------------------------------
    def setup(self) -> None:
        train = self.config.train
        seed_everything(train.seed, threads=train.threads, hardware=self.hardware)
        self.model = self.build_model()
        self.distributed.seed(train.seed)
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.Adam(trainable, lr=self.stage.lr)
        self.scaler = self.hardware.grad_scaler()
        self.state = TrainerState(stage=self.name, epoch=0)
        self.stopper = EarlyStopping(
            self.stage.monitor, self.stage.patience, smoothing=self.stage.smoothing
        )
        last = self.dir / "last"
        if self.resume and self.distributed.is_main:
            recover_directory(last)  # before any rank reads it (read_trainer_state)
        self.distributed.barrier()
        if self.resume and (saved := read_trainer_state(last)) is not None:
            load_model(self.model, str(last / MODEL_FILE))
            restore_training(last, self.optimizer, rank=self.distributed.rank)
            self.state = saved
            self.stopper = EarlyStopping.from_dict(saved.early_stopping)
            if self.scaler is not None and saved.grad_scaler:
                self.scaler.load_state_dict(saved.grad_scaler)
            log.info("%s: resuming after epoch %d from %s", self.name, saved.epoch, last)
        elif last.exists():
            raise ValueError(
                f"{last} already exists: pass --resume to continue that run, or choose a new --out"
            )
        self.distributed.barrier()  # every rank has looked at last/ before rank 0 writes it
        self.trained_model = self.distributed.wrap(self.model)  # DDP; self.model itself

    def train(self) -> None:
        if self.stage.warm_start and not self.state.history and not self.state.finished:
            self._record(self.evaluate_epoch(0, None))  # the starting model is a candidate too
        for epoch in range(self.state.epoch + 1, self.stage.epochs + 1):
            if self.state.finished or self.stopper.should_stop:
                break
            batches, count = self.data.training_batches(
                self.stage.batch_size,
                seed=self.config.train.seed * 100_003 + epoch,
                by_length=self.config.train.by_length,
                with_itm="itm" in self.stage.terms,
                shard=self.distributed.split_batches,
            )
            result = train_epoch(
                self.trained_model,
                batches,
                self.optimizer,
                terms=self.stage.terms,
                grad_clip=self.stage.grad_clip,
                total=count,
                desc=f"{self.name} epoch {epoch}/{self.stage.epochs}",
                hardware=self.hardware,
                scaler=self.scaler,
                distributed=self.distributed,
            )
            self._record(self.evaluate_epoch(epoch, result))
            if self.on_epoch_end is not None:
                self.on_epoch_end(self.name, epoch)
        if not self.state.finished:
            self.state.finished = True
            if not self.state.history:  # no epoch to choose from: the starting model is best
                self.save_checkpoint(best=True)
            self.save_checkpoint(best=False)

    def save_checkpoint(self, *, best: bool) -> None:
        """Rank 0 writes `best/` or `last/`; every rank takes part (its RNG is saved too)."""
        rank_rng = self.distributed.gather(rng_state()) if self.distributed.enabled else ()
        if not self.distributed.is_main:
            return
        save_training_checkpoint(
            self.dir / ("best" if best else "last"),
            model=self.model,
            vocab=self.data.vocab,
            labels=self.data.labels,
            config=self.config.inference_config(backbone=self.data.backbone),
            trainer=self.state,
            optimizer=self.optimizer,
            retrieval=self.data.retrieval,
            processor=self.data.processor,
            rank_rng=rank_rng,
        )

    # -- helpers --------------------------------------------------------------------------
    @property
    def _monitor_key(self) -> str:
        return "dev_loss" if self.stage.monitor == "loss" else f"dev_{self.stage.monitor}"

    def _record(self, row: dict[str, float]) -> None:
        """Log an epoch's row, update early stopping, save best/last and the records."""
        epoch = int(row["epoch"])
        improved = self.stopper.update(row[self._monitor_key], epoch)
        trained = "train_loss" in row  # not the starting model's row
        if trained and not improved and self.stage.lr_decay is not None:
            for group in self.optimizer.param_groups:  # saved with the optimizer: resumes too
                group["lr"] *= self.stage.lr_decay
        if trained:
            row["lr"] = self.optimizer.param_groups[0]["lr"]  # for the next epoch
        self.state.epoch = epoch
        self.state.history.append(row)
        self.state.early_stopping = self.stopper.to_dict()
        if self.scaler is not None:
            self.state.grad_scaler = self.scaler.state_dict()
        if improved:
            self.save_checkpoint(best=True)
        self.save_checkpoint(best=False)
        if self.distributed.is_main:
            self._write_records()
        log.info("%s", _format_row(self.name, row, improved))

    def evaluate_epoch(self, epoch: int, train: PassResult | None) -> dict[str, float]:
        """The epoch's record: train (None for the starting model) and dev losses and terms,
        speed, dev metrics."""
        dev = evaluate_loss(
            self.model,
            self._dev_batches(),
            terms=self.stage.terms,
            hardware=self.hardware,
            distributed=self.distributed,
        )
        row: dict[str, float] = {"epoch": epoch, "dev_loss": dev.loss}
        if train is not None:
            row.update(
                train_loss=train.loss,
                train_pairs=train.pairs,
                train_seconds=train.seconds,
                train_pairs_per_s=train.pairs_per_s,
            )
            row.update({f"train_{k}": v for k, v in train.terms.items()})
        row.update({f"dev_{k}": v for k, v in dev.terms.items()})
        if self.stage.monitor != "loss":
            start = time.perf_counter()
            scores = evaluate(self.dev_predictions(), self.data.dev_posts).scores
            row.update({f"dev_{k}": scores[k] for k in ("F1@1", "F1@3", "F1@5", "MAP@5")})
            row["dev_predict_seconds"] = time.perf_counter() - start
        return row

    def _dev_batches(self) -> Iterator[Batch]:
        return self.data.batches(
            self.data.dev_examples,
            self.config.train.eval_batch_size,
            seed=None,
            by_length=self.config.train.by_length,
            neighbours=self.data.dev_neighbours,
            sentences=self.data.dev_sentences,
            shard=self.distributed.deal_batches,
        )

    def _write_records(self) -> None:
        write_metrics(self.dir / "metrics.jsonl", self.state.history)
        plot_curves(self.dir / "curves.png", self.state.history, title=f"mmkp {self.name}")


def _format_row(stage: str, row: dict[str, float], improved: bool) -> str:
    dev = " ".join(f"{k}={v:.4f}" for k, v in row.items() if k.startswith("dev_"))
    train = f"train_loss={row['train_loss']:.4f} " if "train_loss" in row else "start: "
    speed = f" ({row['train_pairs_per_s']:.0f} pairs/s)" if "train_pairs_per_s" in row else ""
    return f"{stage} epoch {int(row['epoch'])}: {train}{dev}{speed}{' *best*' if improved else ''}"

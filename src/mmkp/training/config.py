"""The experiment configuration: one frozen dataclass per concern, each beside its code.

    data:   mmkp.data.config.DataConfig        which posts, which inputs, vocabulary sizes
    model:  mmkp.model.config.ModelConfig      the family member (`name`) and its settings
    train:  TrainConfig (here)                 seed, threads, one StageConfig per stage
    decode: mmkp.decoding.config.DecodeConfig  beam search settings

`load_config(path, overrides)` reads a YAML file through the generic loader
(`mmkp.config_loader`): unknown keys and wrongly typed values are errors naming the key and
where it came from.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from mmkp.config_loader import from_dict, load_yaml, to_dict
from mmkp.data.config import DataConfig
from mmkp.decoding.config import DecodeConfig
from mmkp.inference.checkpoint import InferenceConfig
from mmkp.model.config import DEFAULT_MODEL, ModelConfig
from mmkp.model.registry import config_class

Monitor = Literal["loss", "F1@1", "F1@3", "F1@5", "MAP@5"]
MODEL_DEFAULT = "default"  # Stage2Config.trainable: the model's own fine-tuning modules


@dataclass(frozen=True)
class StageConfig:
    """One training stage: the loss `terms` it optimises, Adam settings, early stopping.

    Early stopping watches `monitor` on the dev split: "loss" (the stage's own loss, lower is
    better) or a keyphrase metric (higher is better) of the stage's predictions (the
    classifier's top labels when the stage does not train the generator, else beam search).
    `terms` name the model's loss terms (MM-MKP: itm, irtm, cla, gen); they are checked
    against the model's own names when the whole config is read."""

    epochs: int
    terms: tuple[str, ...] = ("itm", "irtm", "cla")  # eq. 15; add "gen" to train jointly
    lr: float = 1e-3
    batch_size: int = 64
    grad_clip: float = 5.0  # max global gradient norm; 0 disables clipping
    monitor: Monitor = "loss"
    patience: int = 3  # stop after this many epochs without improvement
    # Judge improvement for stopping on the mean of the last `smoothing` epochs' values (the
    # best single epoch is still the model kept): a noisy dev F1 then does not stop the run
    # at a random dip (training.early_stopping).
    smoothing: int = 1
    # Multiply the learning rate by this after every epoch that does not improve the monitored
    # value (the public code halves it: 0.5); None keeps it constant.
    lr_decay: float | None = None

    def __post_init__(self) -> None:
        if self.lr_decay is not None and not 0.0 < self.lr_decay < 1.0:
            raise ValueError(f"lr_decay must be in (0, 1), got {self.lr_decay}")
        if self.epochs < 0:
            raise ValueError(f"epochs must be >= 0, got {self.epochs}")
        if not self.terms or len(set(self.terms)) != len(self.terms):
            raise ValueError(f"terms must list distinct loss terms, got {list(self.terms)}")
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if self.smoothing < 1:
            raise ValueError(f"smoothing must be >= 1, got {self.smoothing}")
        if self.batch_size < 1 or self.patience < 1 or self.grad_clip < 0:
            raise ValueError(
                "batch_size and patience must be >= 1 and grad_clip >= 0, got "
                f"{self.batch_size}, {self.patience}, {self.grad_clip}"
            )


@dataclass(frozen=True)
class Stage2Config(StageConfig):
    """Stage 2 (eq. 19) also decides what it trains: `trainable` lists the model's top-level
    modules whose parameters it optimises (None: all; "default": the model's own choice,
    for MM-MKP the generator only, as the paper's public code's second phase)."""

    terms: tuple[str, ...] = ("gen",)
    trainable: tuple[str, ...] | Literal["default"] | None = MODEL_DEFAULT


@dataclass(frozen=True)
class TrainConfig:
    stage1: StageConfig = StageConfig(epochs=10)
    stage2: Stage2Config = Stage2Config(epochs=15)
    seed: int = 1
    threads: int = 2  # torch intra-op threads
    eval_batch_size: int = 64
    by_length: bool = True  # batch rows of similar source length (less padding, faster)

    def __post_init__(self) -> None:
        if self.threads < 1 or self.eval_batch_size < 1:
            raise ValueError(
                "threads and eval_batch_size must be >= 1, got "
                f"{self.threads}, {self.eval_batch_size}"
            )


def _default_model() -> ModelConfig:
    return config_class(DEFAULT_MODEL)()


@dataclass(frozen=True)
class ExperimentConfig:
    data: DataConfig
    model: ModelConfig = field(default_factory=_default_model)
    train: TrainConfig = TrainConfig()
    decode: DecodeConfig = field(default_factory=DecodeConfig)

    def __post_init__(self) -> None:
        known = self.model.loss_terms
        for stage in ("stage1", "stage2"):
            for i, term in enumerate(getattr(self.train, stage).terms):
                if term not in known:
                    raise ValueError(
                        f"train.{stage}.terms[{i}] must be one of {list(known)}, got {term!r} "
                        f"(the loss terms of model {self.model.name!r})"
                    )
        for stage in ("stage1", "stage2"):
            terms = getattr(self.train, stage).terms
            unused = self.model.unused_terms(terms, images=self.data.features is not None)
            if len(unused) == len(terms):
                reasons = "; ".join(f"{term}: {why}" for term, why in unused.items())
                raise ValueError(f"train.{stage}.terms {list(terms)}: no term applies ({reasons})")
        if self.train.stage2.trainable == MODEL_DEFAULT:  # resolved once, stored explicitly
            stage2 = replace(self.train.stage2, trainable=self.model.fine_tune_modules)
            object.__setattr__(self, "train", replace(self.train, stage2=stage2))

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (tuples as lists), as written to a run's config.json."""
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: Any, *, source: str) -> ExperimentConfig:
        return from_dict(cls, data, source=source)

    def inference_config(self, *, backbone: str | None) -> InferenceConfig:
        """What a checkpoint of this experiment stores: the model, how posts become inputs,
        the decode settings and the backbone of the training grids."""
        return InferenceConfig(
            model=self.model, text=self.data.text, decode=self.decode, backbone=backbone
        )


def load_config(path: str | Path, overrides: Iterable[str] = ()) -> ExperimentConfig:
    """Read a YAML config and apply `key.path=value` overrides (values parsed as YAML)."""
    return load_yaml(ExperimentConfig, path, overrides)

"""The experiment configuration: one frozen dataclass per concern, each beside its code.

    data:   mmkp.data.config.DataConfig        which posts, which inputs, vocabulary sizes
    model:  mmkp.model.config.ModelConfig      the family member (`name`) and its settings
    train:  TrainConfig (here)                 seed, threads, device, the list of stages
    decode: mmkp.decoding.config.DecodeConfig  beam search settings

`load_config(path, overrides)` reads a YAML file through the generic loader
(`mmkp.config_loader`): unknown keys and wrongly typed values are errors naming the key and
where it came from.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar, Literal

from mmkp.config_loader import from_dict, load_yaml, to_dict
from mmkp.data.config import DataConfig
from mmkp.decoding.config import DecodeConfig
from mmkp.devices import DEVICE_CHOICES, DEVICE_NAME
from mmkp.inference.checkpoint import InferenceConfig
from mmkp.model.config import DEFAULT_MODEL, ModelConfig
from mmkp.model.registry import config_class

Monitor = Literal["loss", "F1@1", "F1@3", "F1@5", "MAP@5"]
Precision = Literal["fp32", "bf16", "fp16"]
MODEL_DEFAULT = "default"  # StageConfig.trainable: the model's own fine-tuning modules
STAGE_NAME = re.compile(r"[A-Za-z0-9_-]+")  # a stage's name is its run folder: OUT/<name>/


@dataclass(frozen=True)
class StageConfig:
    """One training stage: what it trains (`terms`, `trainable`), how its model starts
    (`warm_start`), Adam settings and early stopping.

    Early stopping watches `monitor` on the dev split: "loss" (the stage's own loss, lower is
    better) or a keyphrase metric (higher is better) of the stage's predictions (the
    classifier's top labels when the stage does not train the generator, else beam search).
    `terms` name the model's loss terms (MM-MKP: itm, irtm, cla, gen); they are checked
    against the model's own names when the whole config is read."""

    epochs: int
    # The stage's folder in the run, OUT/<name>/; None: "stage<i>" for the i-th stage (from 1).
    name: str | None = None
    terms: tuple[str, ...] = ("itm", "irtm", "cla")  # eq. 15; add "gen" to train jointly
    # The model's top-level modules whose parameters the stage optimises. None: all;
    # "default": the model's own fine-tuning choice (MM-MKP: the decoder and generator, as
    # the paper's public code's second phase).
    trainable: tuple[str, ...] | Literal["default"] | None = None
    # Start from the previous stage's best checkpoint (which then competes as "epoch 0": the
    # stage keeps it unless an epoch beats it) instead of a new model. None: True for every
    # stage but the first.
    warm_start: bool | None = None
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
        if self.name is not None and not STAGE_NAME.fullmatch(self.name):
            raise ValueError(f"name must be letters, digits, _ or -, got {self.name!r}")
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


# MM-MKP's two stages: eq. 15 from scratch, then eq. 19 on the generator from stage 1's best.
# They are also the defaults of the older two-field form (`train.stage1` / `train.stage2`).
DEFAULT_STAGES = (
    StageConfig(name="stage1", epochs=10),
    StageConfig(name="stage2", epochs=15, terms=("gen",), trainable=MODEL_DEFAULT),
)
OLD_STAGE_KEYS = ("stage1", "stage2")


@dataclass(frozen=True)
class TrainConfig:
    """Seed, threads and hardware, then the stages, trained in order.

    The older form with two fields, `stage1:` and `stage2:` (each a partial stage), still
    reads: `config_hook` turns it into `stages` with the defaults those fields had."""

    stages: tuple[StageConfig, ...] = DEFAULT_STAGES
    seed: int = 1
    # torch intra-op threads. 1 by default: these models' matrices are small, and with more
    # busy threads than free cores torch's threads wait on each other (configs/tiny.yaml at
    # 2 threads beside other jobs: 1.6-6.3x slower than at 1; benchmarks/RESULTS.md, issue 21).
    threads: int = 1
    eval_batch_size: int = 64
    by_length: bool = True  # batch rows of similar source length (less padding, faster)
    # auto: cuda when available, else cpu (training.device). Data loading stays on the CPU.
    device: str = "auto"
    # Autocast dtype of the forward passes on CUDA (fp16 with gradient scaling); fp32 only
    # on the CPU.
    precision: Precision = "fp32"

    # `--set train.stage1.epochs=3` still works: the stage named stage1.
    config_aliases: ClassVar[dict[str, tuple[str, ...]]] = {
        key: ("stages", key) for key in OLD_STAGE_KEYS
    }

    @classmethod
    def config_hook(cls, raw: Any) -> tuple[type, Any]:
        """`stage1:` / `stage2:` (the two-stage form) -> `stages:` with the old defaults."""
        if not isinstance(raw, dict):
            return cls, raw
        if not any(key in raw for key in OLD_STAGE_KEYS):
            return cls, _named_stages(raw)
        if "stages" in raw:
            raise ValueError("give train.stages or train.stage1/stage2 (the old form), not both")
        stages = []
        for key, default in zip(OLD_STAGE_KEYS, DEFAULT_STAGES, strict=True):
            given = raw.get(key) or {}
            if not isinstance(given, dict) or "name" in given:
                raise ValueError(f"train.{key} must be a mapping of stage settings, got {given!r}")
            stages.append(to_dict(default) | given)
        rest = {key: value for key, value in raw.items() if key not in OLD_STAGE_KEYS}
        return cls, rest | {"stages": stages}

    def __post_init__(self) -> None:
        if self.threads < 1 or self.eval_batch_size < 1:
            raise ValueError(
                "threads and eval_batch_size must be >= 1, got "
                f"{self.threads}, {self.eval_batch_size}"
            )
        if not DEVICE_NAME.fullmatch(self.device):
            raise ValueError(f"device must be one of {DEVICE_CHOICES}, got {self.device!r}")
        if self.device == "cpu" and self.precision != "fp32":
            raise ValueError(
                f"precision {self.precision} needs a CUDA device; the CPU trains in fp32"
            )
        if not self.stages:
            raise ValueError("stages must list at least one stage")
        stages = tuple(_resolve_stage(stage, i) for i, stage in enumerate(self.stages))
        names = [stage.name for stage in stages]
        for i, name in enumerate(names):
            if name in names[:i]:
                raise ValueError(f"stages[{i}].name {name!r} is also stages[{names.index(name)}]'s")
        object.__setattr__(self, "stages", stages)  # names and starts stored explicitly

    def stage(self, name: str) -> StageConfig:
        """The stage named `name`."""
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise KeyError(f"no stage named {name!r} (stages: {[s.name for s in self.stages]})")


def stage_name(index: int) -> str:
    """The name (and run folder) of the `index`-th stage (from 0) when it gives none."""
    return f"stage{index + 1}"


def _named_stages(raw: dict[str, Any]) -> dict[str, Any]:
    """`raw` with each stage's default name written in, so `--set` finds stages by name."""
    stages = raw.get("stages")
    if not isinstance(stages, list):
        return raw
    named = [
        {"name": stage_name(i)} | stage if isinstance(stage, dict) else stage
        for i, stage in enumerate(stages)
    ]
    return raw | {"stages": named}


def _resolve_stage(stage: StageConfig, index: int) -> StageConfig:
    """The stage with its default name and start made explicit."""
    if stage.warm_start and index == 0:
        raise ValueError(
            "stages[0].warm_start: the first stage has no previous stage to start from"
        )
    return replace(
        stage,
        name=stage.name or stage_name(index),
        warm_start=index > 0 if stage.warm_start is None else stage.warm_start,
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
        images = self.data.features is not None
        stages = []
        for i, stage in enumerate(self.train.stages):
            where = f"train.stages[{i}]"
            for j, term in enumerate(stage.terms):
                if term not in known:
                    raise ValueError(
                        f"{where}.terms[{j}] must be one of {list(known)}, got {term!r} "
                        f"(the loss terms of model {self.model.name!r})"
                    )
            unused = self.model.unused_terms(stage.terms, images=images)
            if len(unused) == len(stage.terms):
                reasons = "; ".join(f"{term}: {why}" for term, why in unused.items())
                raise ValueError(f"{where}.terms {list(stage.terms)}: no term applies ({reasons})")
            if stage.trainable == MODEL_DEFAULT:  # resolved once, stored explicitly
                stage = replace(stage, trainable=self.model.fine_tune_modules)
            stages.append(stage)
        object.__setattr__(self, "train", replace(self.train, stages=tuple(stages)))

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

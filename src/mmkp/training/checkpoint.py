"""Checkpoint directories (no pickle anywhere):

    model.safetensors          the model's parameters and buffers
    config.json                the full ExperimentConfig (the model is rebuilt from it)
    vocab.json, labels.json    the training vocabulary and keyphrase label set
    trainer_state.json         (training checkpoints) epoch, early stopping, history, ...
    trainer_state.safetensors  (training checkpoints) optimizer tensors and the torch RNG

A directory is written beside its final place and renamed over it, so an interrupted save
leaves the previous checkpoint intact.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import load_model, save_file, save_model

from mmkp.config import ExperimentConfig
from mmkp.data.vocab import LabelSet, Vocab
from mmkp.io import write_json_atomic
from mmkp.model.build import build_model
from mmkp.model.mmkp import MMKP

MODEL_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
VOCAB_FILE = "vocab.json"
LABELS_FILE = "labels.json"
STATE_FILE = "trainer_state.json"
STATE_TENSORS = "trainer_state.safetensors"
RNG_KEY = "rng.torch"
OPTIMIZER_PREFIX = "optimizer.state."


@dataclass
class Checkpoint:
    """A trained model with everything needed to feed it and read its outputs."""

    model: MMKP
    vocab: Vocab
    labels: LabelSet
    config: ExperimentConfig


@dataclass
class TrainerState:
    """Where a training stage stands after `epoch` completed epochs."""

    stage: str
    epoch: int
    finished: bool = False
    early_stopping: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)


def save_checkpoint(
    directory: str | Path,
    *,
    model: MMKP,
    vocab: Vocab,
    labels: LabelSet,
    config: ExperimentConfig,
    trainer: TrainerState | None = None,
    optimizer: torch.optim.Optimizer | None = None,
) -> Path:
    """Write a checkpoint directory atomically (trainer state and optimizer when given)."""
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=directory.parent, prefix=f".{directory.name}."))
    try:
        save_model(model, str(tmp / MODEL_FILE))
        write_json_atomic(tmp / CONFIG_FILE, config.to_dict())
        vocab.save(tmp / VOCAB_FILE)
        labels.save(tmp / LABELS_FILE)
        if trainer is not None:
            write_json_atomic(tmp / STATE_FILE, asdict(trainer))
            tensors, scalars = _flatten_optimizer(optimizer)
            tensors[RNG_KEY] = torch.get_rng_state()
            save_file(tensors, str(tmp / STATE_TENSORS), metadata={"optimizer": scalars})
        _replace_dir(tmp, directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return directory


def load_checkpoint(directory: str | Path) -> Checkpoint:
    """Rebuild the model from config.json + vocab/labels and load its weights (eval mode)."""
    directory = Path(directory)
    for name in (MODEL_FILE, CONFIG_FILE, VOCAB_FILE, LABELS_FILE):
        if not (directory / name).is_file():
            raise FileNotFoundError(f"{directory}: not a checkpoint directory (no {name})")
    config_path = directory / CONFIG_FILE
    config = ExperimentConfig.from_dict(
        json.loads(config_path.read_text(encoding="utf-8")), source=str(config_path)
    )
    vocab = Vocab.load(directory / VOCAB_FILE)
    labels = LabelSet.load(directory / LABELS_FILE)
    model = build_model(config.model, vocab, labels)
    load_model(model, str(directory / MODEL_FILE))
    model.eval()
    return Checkpoint(model=model, vocab=vocab, labels=labels, config=config)


def read_trainer_state(directory: str | Path) -> TrainerState | None:
    """The trainer state of a checkpoint directory, or None when it has none."""
    path = Path(directory) / STATE_FILE
    if not path.is_file():
        return None
    return TrainerState(**json.loads(path.read_text(encoding="utf-8")))


def restore_training(directory: str | Path, optimizer: torch.optim.Optimizer) -> None:
    """Load the optimizer's state and the torch RNG saved with a training checkpoint."""
    path = Path(directory) / STATE_TENSORS
    if not path.is_file():
        raise FileNotFoundError(f"{directory}: no {STATE_TENSORS} to resume from")
    with safe_open(str(path), framework="pt") as handle:
        tensors = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
        scalars = json.loads(handle.metadata()["optimizer"])  # the non-tensor optimizer state
    state: dict[int, dict[str, Any]] = {}
    for key, tensor in tensors.items():
        if key.startswith(OPTIMIZER_PREFIX):
            index, name = key[len(OPTIMIZER_PREFIX) :].split(".", 1)
            state.setdefault(int(index), {})[name] = tensor
    for index, values in scalars["state"].items():
        state.setdefault(int(index), {}).update(values)
    groups = [  # JSON turned tuples such as Adam's betas into lists
        {k: v if k == "params" or not isinstance(v, list) else tuple(v) for k, v in group.items()}
        for group in scalars["param_groups"]
    ]
    optimizer.load_state_dict({"state": state, "param_groups": groups})
    torch.set_rng_state(tensors[RNG_KEY])


def export_model(checkpoint: str | Path, target: str | Path) -> Path:
    """Copy a checkpoint without its trainer state: the model directory to ship or predict with."""
    checkpoint, target = Path(checkpoint), Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        for name in (MODEL_FILE, CONFIG_FILE, VOCAB_FILE, LABELS_FILE):
            shutil.copy2(checkpoint / name, tmp / name)
        _replace_dir(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _flatten_optimizer(
    optimizer: torch.optim.Optimizer | None,
) -> tuple[dict[str, torch.Tensor], str]:
    """Optimizer state -> (tensors keyed "optimizer.state.<param>.<name>", JSON of the rest)."""
    if optimizer is None:
        return {}, json.dumps({"state": {}, "param_groups": []})
    state_dict = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, values in state_dict["state"].items():
        for name, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{OPTIMIZER_PREFIX}{index}.{name}"] = value.detach().contiguous()
            else:
                scalars.setdefault(str(index), {})[name] = value
    return tensors, json.dumps({"state": scalars, "param_groups": state_dict["param_groups"]})


def _replace_dir(new: Path, target: Path) -> None:
    """Move `new` to `target`, replacing an existing directory with as short a gap as possible."""
    old = target.with_name(f".{target.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    new.rename(target)
    shutil.rmtree(old, ignore_errors=True)

"""Model directories (no pickle anywhere):

    model.safetensors          the model's parameters and buffers
    config.json                what inference needs: the model config (its `name` picks the
                               family member), how posts become inputs, the decode settings,
                               the backbone of the image grids
    vocab.json, labels.json    the training vocabulary and keyphrase label set

Training checkpoints add their trainer state beside these (`mmkp.training.state`). A
directory is written beside its final place and renamed over it (`atomic_directory`), so an
interrupted save leaves the previous checkpoint intact. Checkpoints written before the
model family (config.json holding the whole experiment config) still load: see
`read_config`.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safetensors.torch import load_model, save_model

from mmkp.config_loader import from_dict, to_dict
from mmkp.data.processor import TextOptions
from mmkp.data.vocab import LabelSet, Vocab
from mmkp.decoding.config import DecodeConfig
from mmkp.features.store import FeatureStore
from mmkp.io import atomic_directory, write_json_atomic
from mmkp.model.config import ModelConfig
from mmkp.model.protocol import KeyphraseModel
from mmkp.model.registry import build_model

MODEL_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
VOCAB_FILE = "vocab.json"
LABELS_FILE = "labels.json"
MODEL_FILES = (MODEL_FILE, CONFIG_FILE, VOCAB_FILE, LABELS_FILE)
CONFIG_FORMAT = "mmkp-model"


@dataclass(frozen=True)
class InferenceConfig:
    """Everything a saved model needs to be fed and decoded, and nothing about training."""

    model: ModelConfig
    text: TextOptions
    decode: DecodeConfig
    backbone: str | None = None  # the CNN the training grids came from; None: no grids

    def to_dict(self) -> dict[str, Any]:
        return {"format": CONFIG_FORMAT, "version": 1, **to_dict(self)}


@dataclass
class Checkpoint:
    """A trained model with everything needed to feed it and read its outputs."""

    model: KeyphraseModel
    vocab: Vocab
    labels: LabelSet
    config: InferenceConfig


def save_checkpoint(
    directory: str | Path,
    *,
    model: KeyphraseModel,
    vocab: Vocab,
    labels: LabelSet,
    config: InferenceConfig,
    extra: Callable[[Path], None] | None = None,
) -> Path:
    """Write a model directory atomically; `extra(tmp)` may add files (a trainer state)."""
    with atomic_directory(directory) as tmp:
        save_model(model, str(tmp / MODEL_FILE))  # type: ignore[arg-type]
        write_json_atomic(tmp / CONFIG_FILE, config.to_dict())
        vocab.save(tmp / VOCAB_FILE)
        labels.save(tmp / LABELS_FILE)
        if extra is not None:
            extra(tmp)
    return Path(directory)


def load_checkpoint(directory: str | Path) -> Checkpoint:
    """Rebuild the model from config.json + vocab/labels and load its weights (eval mode)."""
    directory = Path(directory)
    for name in MODEL_FILES:
        if not (directory / name).is_file():
            raise FileNotFoundError(f"{directory}: not a checkpoint directory (no {name})")
    config = read_config(directory)
    vocab = Vocab.load(directory / VOCAB_FILE)
    labels = LabelSet.load(directory / LABELS_FILE)
    model = build_model(config.model, vocab, labels)
    load_model(model, str(directory / MODEL_FILE))  # type: ignore[arg-type]
    model.eval()
    return Checkpoint(model=model, vocab=vocab, labels=labels, config=config)


def read_config(directory: str | Path) -> InferenceConfig:
    """The InferenceConfig of a model directory, from either config.json layout."""
    path = Path(directory) / CONFIG_FILE
    raw = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(raw, dict) and raw.get("format") == CONFIG_FORMAT:
        raw = {key: value for key, value in raw.items() if key not in ("format", "version")}
    elif isinstance(raw, dict) and "data" in raw:
        raw = _from_experiment_config(raw)
    return from_dict(InferenceConfig, raw, source=str(path))


def _from_experiment_config(raw: dict[str, Any]) -> dict[str, Any]:
    """The inference part of a config.json written before the model family: the whole
    experiment config, the grid backbone only known through the training feature store."""
    data = raw.get("data") or {}
    features = data.get("features")
    backbone = None
    if features is not None and Path(features).is_dir():
        backbone = FeatureStore.open(features).backbone
    return {
        "model": raw.get("model", {}),
        "text": {key: data[key] for key in vars(TextOptions()) if key in data},
        "decode": raw.get("decode", {}),
        "backbone": backbone,
    }


def export_model(checkpoint: str | Path, target: str | Path) -> Path:
    """Copy a checkpoint without its trainer state: the model directory to ship or predict with."""
    checkpoint = Path(checkpoint)
    with atomic_directory(target) as tmp:
        for name in MODEL_FILES:
            shutil.copy2(checkpoint / name, tmp / name)
    return Path(target)

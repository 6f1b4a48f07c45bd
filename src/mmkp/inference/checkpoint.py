"""Model directories (no pickle anywhere):

    model.safetensors          the model's parameters and buffers
    config.json                what inference needs: the model config (its `name` picks the
                               family member), how posts become inputs, the decode settings,
                               the backbone of the image grids
    vocab.json, labels.json    the training vocabulary and keyphrase label set
    processor.json             the featurizer the training images went through
                               (`mmkp.processing.processor`); absent in older directories

Training checkpoints add their trainer state beside these (`mmkp.training.state`). A
directory is written beside its final place and renamed over it (`atomic_directory`), so an
interrupted save leaves the previous checkpoint intact. Checkpoints written before the
model family (config.json holding the whole experiment config) still load: see
`read_config`.

Loading trusts none of the files: config.json must be JSON with its sections, the weights
must be readable safetensors whose tensors are exactly those the config builds, of the same
shapes (so the vocabulary and label set are the ones trained with), and finite. A problem is
one ValueError naming the file and the mismatch; a setting config.json lacks is named too
(logged when the weights fit anyway, part of the error when they do not).
"""

from __future__ import annotations

import dataclasses
import errno
import json
import logging
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_model, save_model

from mmkp.config_loader import from_dict, to_dict
from mmkp.data.neighbours import INDEX_FILE, RetrievalIndex
from mmkp.data.processor import TextOptions
from mmkp.data.vocab import LabelSet, Vocab
from mmkp.decoding.config import DecodeConfig
from mmkp.features import backbones
from mmkp.features.featurizer import FeaturizerConfig
from mmkp.features.store import FeatureStore
from mmkp.io import atomic_directory, read_text, write_json_atomic
from mmkp.model.config import DEFAULT_MODEL, ModelConfig
from mmkp.model.protocol import INPUT_GRID, KeyphraseModel
from mmkp.model.registry import build_model, config_class
from mmkp.processing.processor import (
    PROCESSOR_FILE,
    Processor,
    ProcessorConfig,
    read_processor_config,
    write_processor_config,
)

log = logging.getLogger("mmkp.inference")

MODEL_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
VOCAB_FILE = "vocab.json"
LABELS_FILE = "labels.json"
MODEL_FILES = (MODEL_FILE, CONFIG_FILE, VOCAB_FILE, LABELS_FILE)
CONFIG_FORMAT = "mmkp-model"
ZERO_SHOT = "zero-shot"  # the reserved name of the built-in model (mmkp.inference.zero_shot)


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
    retrieval: RetrievalIndex | None = None  # the training posts' index (model.retrieval)
    processor_config: ProcessorConfig = field(default_factory=ProcessorConfig)

    def processor(self) -> Processor:
        """A new processor feeding this model as it was fed in training."""
        return Processor(
            self.vocab,
            self.labels,
            self.config.text,
            self.processor_config,
            retrieval=self.retrieval,
            grid_width=getattr(self.config.model, "image_dim", None),
        )


def save_checkpoint(
    directory: str | Path,
    *,
    model: KeyphraseModel,
    vocab: Vocab,
    labels: LabelSet,
    config: InferenceConfig,
    extra: Callable[[Path], None] | None = None,
    retrieval: RetrievalIndex | None = None,
    processor: ProcessorConfig | None = None,
) -> Path:
    """Write a model directory atomically; `extra(tmp)` may add files (a trainer state).
    A model with `retrieval` in its config is saved with its index (retrieval.json); the
    processor config (processor.json) defaults to the one `config.backbone` implies.

    A write that fails (disk full, quota) is an OSError naming the directory, with its errno;
    the checkpoint that was there is left as it was."""
    if (config.model.retrieval is None) != (retrieval is None):
        raise ValueError("a model with model.retrieval is saved with its index, and only it")
    try:
        with atomic_directory(directory) as tmp:
            save_model(model, str(tmp / MODEL_FILE))  # type: ignore[arg-type]
            if retrieval is not None:
                retrieval.save(tmp)
            write_json_atomic(tmp / CONFIG_FILE, config.to_dict())
            write_processor_config(tmp, processor or implied_processor(config, model))
            vocab.save(tmp / VOCAB_FILE)
            labels.save(tmp / LABELS_FILE)
            if extra is not None:
                extra(tmp)
    except (OSError, SafetensorError) as exc:
        code = getattr(exc, "errno", None) or _os_error_code(str(exc))
        reason = getattr(exc, "strerror", None) or str(exc)
        kept = "the previous checkpoint is intact" if Path(directory).is_dir() else "none written"
        message = f"could not write the checkpoint ({reason}); {kept}"
        raise OSError(code, message, str(directory)) from exc
    return Path(directory)


def _os_error_code(message: str) -> int:
    """The errno in a safetensors message ("... (os error 28)"), EIO when there is none."""
    found = re.search(r"os error (\d+)", message)
    return int(found.group(1)) if found else errno.EIO


def load_checkpoint(directory: str | Path) -> Checkpoint:
    """Rebuild the model from config.json + vocab/labels and load its weights (eval mode),
    checking that they fit (module docstring)."""
    directory = Path(directory)
    if directory.is_file():
        raise NotADirectoryError(f"{directory}: is a file, not a checkpoint directory")
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory}: no such checkpoint directory")
    for name in MODEL_FILES:
        if not (directory / name).is_file():
            raise FileNotFoundError(f"{directory}: not a checkpoint directory (no {name})")
    config, defaulted = _read_config(directory)
    vocab = Vocab.load(directory / VOCAB_FILE)
    labels = LabelSet.load(directory / LABELS_FILE)
    model = build_model(config.model, vocab, labels)
    _check_weights(model, directory, defaulted, vocab_size=len(vocab), labels=len(labels))
    _warn_defaulted(directory, defaulted)
    load_model(model, str(directory / MODEL_FILE))  # type: ignore[arg-type]
    _check_finite(model, directory / MODEL_FILE)
    model.eval()
    options = config.model.retrieval
    retrieval = None if options is None else RetrievalIndex.load(directory, options, len(labels))
    processor = read_processor_config(directory) or implied_processor(config, model)
    return Checkpoint(
        model=model,
        vocab=vocab,
        labels=labels,
        config=config,
        retrieval=retrieval,
        processor_config=processor,
    )


def implied_processor(config: InferenceConfig, model: KeyphraseModel) -> ProcessorConfig:
    """The processor of a directory without processor.json (written before it existed): the
    default featurizer on the backbone config.json names; without one, the default backbone
    when the model reads no grids or grids as wide as its, else unknown (None)."""
    if config.backbone is not None:
        return ProcessorConfig(FeaturizerConfig(backbone=config.backbone))
    default = backbones.DEFAULT_BACKBONE
    dim = getattr(config.model, "image_dim", None)
    reads_grids = INPUT_GRID in getattr(model, "inputs", ())  # a bare nn.Module reads none
    unknown = reads_grids and backbones.spec(default).channels != dim
    return ProcessorConfig(None if unknown else FeaturizerConfig(backbone=default))


def read_config(directory: str | Path) -> InferenceConfig:
    """The InferenceConfig of a model directory, from either config.json layout; settings it
    lacks get the library defaults, with a warning naming them. `zero-shot` (ZERO_SHOT) is
    the built-in zero-shot model's."""
    if str(directory) == ZERO_SHOT:
        from mmkp.inference.zero_shot.predictor import inference_config  # it imports this module

        return inference_config()
    config, defaulted = _read_config(Path(directory))
    _warn_defaulted(Path(directory), defaulted)
    return config


def _warn_defaulted(directory: Path, defaulted: list[str]) -> None:
    if defaulted:
        keys = ", ".join(defaulted)
        log.warning("%s lacks %s: using the library defaults", directory / CONFIG_FILE, keys)


def _read_config(directory: Path) -> tuple[InferenceConfig, list[str]]:
    """The config and the keys it lacks (as `section.key`), which got library defaults."""
    path = directory / CONFIG_FILE
    try:
        raw = json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a JSON object, got {type(raw).__name__}")
    sections: tuple[str, ...] = ("model", "text", "decode")
    if raw.get("format") == CONFIG_FORMAT:
        raw = {key: value for key, value in raw.items() if key not in ("format", "version")}
        missing = [key for key in sections if key not in raw]
        if missing:
            raise ValueError(f"{path}: no {missing[0]!r} section; not a complete model config")
    elif "data" in raw:
        # Written before the model family: no model `name` (MM-MKP by definition), and text
        # options that did not exist then.
        raw, sections = _from_experiment_config(raw), ("model",)
    raw["model"] = _with_former_defaults(raw.get("model"))
    config = from_dict(InferenceConfig, raw, source=str(path))
    legacy = sections == ("model",)
    defaulted = [
        f"{section}.{f.name}"
        for section in sections
        for f in dataclasses.fields(getattr(config, section))
        if f.init and f.name not in (raw.get(section) or {}) and not (legacy and f.name == "name")
    ]
    return config, defaulted


def _with_former_defaults(model: Any) -> Any:
    """A saved model section with the settings it predates filled in as the architecture it
    was built with (`ModelConfig.former_defaults`), not as today's defaults: a checkpoint
    written before a switch existed keeps predicting as it did."""
    if not isinstance(model, dict):
        return model
    name = model.get("name", DEFAULT_MODEL)
    if not isinstance(name, str):
        return model
    former = config_class(name).former_defaults
    return {**{key: value for key, value in former.items() if key not in model}, **model}


def _check_weights(
    model: KeyphraseModel, directory: Path, defaulted: list[str], *, vocab_size: int, labels: int
) -> None:
    """Raise one ValueError naming the file and the mismatch unless model.safetensors holds
    exactly the tensors the config builds, with their shapes."""
    weights = directory / MODEL_FILE
    try:
        with safe_open(str(weights), framework="pt") as handle:
            keys = list(handle.keys())
            stored = {key: tuple(handle.get_slice(key).get_shape()) for key in keys}
    except (SafetensorError, OSError) as exc:
        raise ValueError(
            f"{weights}: not a readable safetensors file ({exc}); the file is damaged or was "
            "not written by mmkp"
        ) from exc
    expected = {key: tuple(value.shape) for key, value in model.state_dict().items()}
    problems = [
        f"{key} is {list(stored[key])} in the file but {list(shape)} for the config"
        for key, shape in expected.items()
        if key in stored and stored[key] != shape
    ]
    missing = [key for key in expected if key not in stored and not _shared(model, key, stored)]
    unexpected = [key for key in stored if key not in expected]
    problems += [f"no tensor {key}" for key in missing]
    problems += [f"tensor {key} that the config has no place for" for key in unexpected]
    if not problems:
        return
    shown = "; ".join(problems[:3]) + (f" (+{len(problems) - 3} more)" if len(problems) > 3 else "")
    hints = []
    if defaulted:
        hints.append(f"{CONFIG_FILE} lacks {', '.join(defaulted)}, so library defaults were used")
    sizes = _differing_sizes(expected, stored)
    if vocab_size in sizes:
        hints.append(f"{VOCAB_FILE} has {vocab_size} words, which the weights do not match")
    if labels in sizes:
        hints.append(f"{LABELS_FILE} has {labels} labels, which the weights do not match")
    hint = f" ({'; '.join(hints)})" if hints else ""
    raise ValueError(f"{weights} does not fit {directory / CONFIG_FILE}: {shown}{hint}")


def _differing_sizes(
    expected: dict[str, tuple[int, ...]], stored: dict[str, tuple[int, ...]]
) -> set[int]:
    """The config's sizes along the dimensions where a stored tensor has another size."""
    return {
        size
        for key, shape in expected.items()
        if key in stored and len(stored[key]) == len(shape)
        for size, found in zip(shape, stored[key], strict=True)
        if size != found
    }


def _shared(model: KeyphraseModel, key: str, stored: dict[str, tuple[int, ...]]) -> bool:
    """Whether `key` shares its storage with a stored tensor (safetensors keeps one of them)."""
    state = model.state_dict()
    pointer = state[key].untyped_storage().data_ptr()
    return any(
        other in stored and value.untyped_storage().data_ptr() == pointer
        for other, value in state.items()
        if other != key
    )


def _check_finite(model: KeyphraseModel, weights: Path) -> None:
    for key, value in model.state_dict().items():
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise ValueError(f"{weights}: tensor {key} holds NaN or infinite values (damaged?)")


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
        for name in (*MODEL_FILES, INDEX_FILE, PROCESSOR_FILE):
            if name in MODEL_FILES or (checkpoint / name).is_file():
                shutil.copy2(checkpoint / name, tmp / name)
    return Path(target)

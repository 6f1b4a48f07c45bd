"""Model directories (no pickle anywhere):

    model.safetensors          the model's parameters and buffers
    config.json                what inference needs: the model config (its `name` picks the
                               family member), how posts become inputs, the decode settings,
                               the backbone of the image grids
    vocab.json, labels.json    the training vocabulary and keyphrase label set
    README.md                  the model card (`mmkp.inference.model_card`), for people only
    processor.json             the featurizer the training images went through
                               (`mmkp.processing.processor`); absent in older directories
    retrieval.json, retrieval-minilm.npy   the training posts' index (model.retrieval)
    keyphrases-minilm.npy      the training keyphrases' MiniLM embeddings, for the rerank's
                               semantic term (`mmkp.inference.keyphrase_embeddings`); optional

Training checkpoints add their trainer state beside these (`mmkp.training.state`). A
directory is written beside its final place and renamed over it (`atomic_directory`), so an
interrupted save leaves the previous checkpoint intact. Checkpoints written before the
model family (config.json holding the whole experiment config) still load: see
`read_config`.

The layout is a Hugging Face Hub model repo's: `Predictor.from_pretrained` reads a directory
or a repo id (`mmkp.inference.hub`). Loading trusts none of the files: config.json must be
JSON with its sections, the weights must be readable safetensors whose tensors are exactly
those the config builds, of the same shapes (so the vocabulary and label set are the ones
trained with), and finite; all of that is checked before the model is allocated
(`mmkp.inference.weights`). A problem is one ValueError naming the file and the mismatch; a
setting config.json lacks is named too (logged when the weights fit anyway, part of the
error when they do not).
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

from safetensors import SafetensorError
from safetensors.torch import load_model, save_model

from mmkp.config_loader import from_dict, to_dict
from mmkp.data.embedding_index import EMBEDDINGS_FILE
from mmkp.data.neighbours import INDEX_FILE, RetrievalIndex
from mmkp.data.processor import TextOptions
from mmkp.data.vocab import LabelSet, Vocab
from mmkp.decoding.config import DecodeConfig
from mmkp.features import backbones
from mmkp.features.featurizer import FeaturizerConfig
from mmkp.features.sentence_encoder import sentence_embed, shared_encoder
from mmkp.features.store import FeatureStore
from mmkp.inference.keyphrase_embeddings import KEYPHRASE_EMBEDDINGS_FILE
from mmkp.inference.model_card import CARD_FILE, ModelCard, write_model_card
from mmkp.inference.weights import WeightsSource, check_weights
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
    directory: Path | None = None  # where it was loaded from (None: built in memory)

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
            write_model_card(tmp, ModelCard(config.to_dict(), len(vocab), len(labels)))
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
    checking that they fit (module docstring) before the model is built."""
    checked = _checked(Path(directory))
    config, vocab, labels = checked.config, checked.vocab, checked.labels
    model = checked.model or _build_real(config.model, vocab, labels)
    load_model(model, str(checked.directory / MODEL_FILE))  # type: ignore[arg-type]
    model.eval()
    options = config.model.retrieval
    retrieval = None
    if options is not None:
        with shared_encoder().exact():  # training posts without their cache: embedded as then
            retrieval = RetrievalIndex.load(
                checked.directory, options, len(labels), embed=sentence_embed()
            )
    processor = read_processor_config(checked.directory) or implied_processor(config, model)
    return Checkpoint(
        model=model,
        vocab=vocab,
        labels=labels,
        config=config,
        retrieval=retrieval,
        processor_config=processor,
        directory=checked.directory,
    )


def check_checkpoint(directory: str | Path) -> InferenceConfig:
    """Every check `load_checkpoint` makes of a model directory, with no model allocated (the
    shapes come from a model on the meta device): what a process that hands the directory to
    others checks first (`mmkp serve`). Returns its config. `zero-shot` (ZERO_SHOT) is the
    built-in zero-shot model, which has no directory: its config."""
    if str(directory) == ZERO_SHOT:
        from mmkp.inference.zero_shot.predictor import inference_config  # it imports this module

        return inference_config()
    return _checked(Path(directory)).config


@dataclass(frozen=True)
class _Checked:
    directory: Path
    config: InferenceConfig
    vocab: Vocab
    labels: LabelSet
    model: KeyphraseModel | None  # built for real by the checks (`check_weights`), or not yet


def _checked(directory: Path) -> _Checked:
    """The directory's config, vocabulary and labels, its weights checked against them."""
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
    files = (MODEL_FILE, CONFIG_FILE, VOCAB_FILE, LABELS_FILE)
    paths = [directory / name for name in files]
    source = WeightsSource(*paths, defaulted=tuple(defaulted))
    model = check_weights(config.model, vocab, labels, source)
    _warn_defaulted(directory, defaulted)
    return _Checked(directory, config, vocab, labels, model)


def _build_real(config: ModelConfig, vocab: Vocab, labels: LabelSet) -> KeyphraseModel:
    """The model with storage, built only once `check_weights` has passed."""
    return build_model(config, vocab, labels)


def implied_processor(config: InferenceConfig, model: KeyphraseModel) -> ProcessorConfig:
    """The processor of a directory without processor.json (written before it existed): the
    default featurizer on the backbone config.json names; without one, the default backbone
    when the model reads no grids or grids as wide as its, else unknown (None)."""
    if config.backbone is not None:
        return ProcessorConfig.of(FeaturizerConfig(backbone=config.backbone))
    default = backbones.DEFAULT_BACKBONE
    dim = getattr(config.model, "image_dim", None)
    reads_grids = INPUT_GRID in getattr(model, "inputs", ())  # a bare nn.Module reads none
    unknown = reads_grids and backbones.spec(default).channels != dim
    return (
        ProcessorConfig(None) if unknown else ProcessorConfig.of(FeaturizerConfig(backbone=default))
    )


def read_config(directory: str | Path) -> InferenceConfig:
    """The InferenceConfig of a model directory, from either config.json layout; settings it
    lacks get the library defaults, with a warning naming them."""
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
    raw["model"] = _with_former_defaults(raw.get("model"), path)
    config = from_dict(InferenceConfig, raw, source=str(path))
    legacy = sections == ("model",)
    defaulted = [
        f"{section}.{f.name}"
        for section in sections
        for f in dataclasses.fields(getattr(config, section))
        if f.init and f.name not in (raw.get(section) or {}) and not (legacy and f.name == "name")
    ]
    return config, defaulted


def _with_former_defaults(model: Any, path: Path) -> Any:
    """A saved model section with the settings it predates filled in as the architecture it
    was built with (`ModelConfig.former_defaults`), not as today's defaults: a checkpoint
    written before a switch existed keeps predicting as it did."""
    if not isinstance(model, dict):
        return model
    name = model.get("name", DEFAULT_MODEL)
    if not isinstance(name, str):
        return model
    try:
        former = config_class(name).former_defaults
    except ValueError as exc:  # an unknown name
        raise ValueError(f"{path}: model.name: {exc}") from exc
    return {**{key: value for key, value in former.items() if key not in model}, **model}


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
        # the MiniLM index's embeddings too: without them every load embeds the training
        # posts again (about 100 s for 4,770 posts on one core); the keyphrases' likewise
        optional = (INDEX_FILE, EMBEDDINGS_FILE, KEYPHRASE_EMBEDDINGS_FILE, PROCESSOR_FILE)
        for name in (*MODEL_FILES, *optional, CARD_FILE):
            if name in MODEL_FILES or (checkpoint / name).is_file():
                shutil.copy2(checkpoint / name, tmp / name)
    return Path(target)

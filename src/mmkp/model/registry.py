"""The model family: a model name -> its config class and its builder.

A member registers itself when its module is imported (`register_model`); the package's own
members are the subpackages of `mmkp.model` (all but `modules`, the shared components), each
imported on first lookup, so configs and checkpoints can name them without importing
anything first. A checkpoint's config.json names its model, so loading never
guesses.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass

from mmkp.data.vocab import LabelSet, Vocab
from mmkp.model.config import ModelConfig
from mmkp.model.modules.embeddings import PretrainedEmbeddings
from mmkp.model.protocol import KeyphraseModel

Builder = Callable[[ModelConfig, Vocab, LabelSet, PretrainedEmbeddings | None], KeyphraseModel]
SHARED_COMPONENTS = "modules"  # the one subpackage of mmkp.model that is not a member


@dataclass(frozen=True)
class ModelSpec:
    name: str
    config_class: type[ModelConfig]
    build: Builder


_MODELS: dict[str, ModelSpec] = {}


def register_model(name: str, config_class: type[ModelConfig], build: Builder) -> None:
    """Add a member; registering a name twice with another class is an error."""
    known = _MODELS.get(name)
    if known is not None and known.config_class is not config_class:
        raise ValueError(f"model {name!r} is already registered ({known.config_class.__name__})")
    _MODELS[name] = ModelSpec(name, config_class, build)


def model_names() -> list[str]:
    _import_members()
    return sorted(_MODELS)


def spec(name: str) -> ModelSpec:
    _import_members()
    if name not in _MODELS:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(sorted(_MODELS))}")
    return _MODELS[name]


def config_class(name: str) -> type[ModelConfig]:
    return spec(name).config_class


def build_model(
    config: ModelConfig,
    vocab: Vocab,
    labels: LabelSet,
    embeddings: PretrainedEmbeddings | None = None,
) -> KeyphraseModel:
    """A freshly initialised model of `config.name`; `embeddings` (see `load_embeddings`)
    seed its word table."""
    return spec(config.name).build(config, vocab, labels, embeddings)


def _import_members() -> None:
    import mmkp.model as package

    for member in pkgutil.iter_modules(package.__path__):
        if member.ispkg and member.name != SHARED_COMPONENTS:
            importlib.import_module(f"{package.__name__}.{member.name}")

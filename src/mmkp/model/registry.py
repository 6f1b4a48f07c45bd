"""The model family: a model name -> its config class and its builder (transformers' AutoConfig
and AutoModel in one table).

The registry knows the package's members by name (`MEMBER_PACKAGES`): each is a subpackage
of `mmkp.model` whose `REGISTRATIONS` maps its names to `(config class, builder)`, imported on
the first lookup of one of its names, so configs and checkpoints name a member without importing
anything first. Members outside the package call `register_model`. Nothing a member or the
base config imports leads here (an import-linter contract in pyproject.toml): the registry
installs its lookup into `ModelConfig`'s config hook when it is imported, which the package's
`__init__` does. A checkpoint's config.json names its model, so loading never guesses.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mmkp.data.vocab import LabelSet, Vocab
from mmkp.model.config import ModelConfig, install_config_lookup
from mmkp.model.protocol import KeyphraseModel

if TYPE_CHECKING:
    from mmkp.model.modules.embeddings import PretrainedEmbeddings

Builder = Callable[[ModelConfig, Vocab, LabelSet, "PretrainedEmbeddings | None"], KeyphraseModel]

# Each member of the package -> the subpackage whose `REGISTRATIONS` holds its config class and
# builder. A new member inside the package adds its names here.
MEMBER_PACKAGES: dict[str, str] = {
    "mmkp": "mmkp.model.mmkp",
    **{name: "mmkp.model.classifiers" for name in ("avg", "max", "vgg", "co-att", "ban")},
    "butd": "mmkp.model.butd",
    "flava": "mmkp.model.flava",
    "m3h-att": "mmkp.model.m3h_att",
    "att": "mmkp.model.seq2seq",
    "copy": "mmkp.model.seq2seq",
    "topic": "mmkp.model.topic",
    "tmn": "mmkp.model.topic",
    "one2seq": "mmkp.model.one2seq",
    "one2set": "mmkp.model.one2set",
}


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
    """Every member's name: the package's own and those registered."""
    return sorted(set(MEMBER_PACKAGES) | set(_MODELS))


def spec(name: str) -> ModelSpec:
    if name not in _MODELS and name in MEMBER_PACKAGES:
        _import_member(name)
    if name not in _MODELS:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(model_names())}")
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


def _import_member(name: str) -> None:
    """Register every member of `name`'s subpackage from its `REGISTRATIONS` table."""
    package = importlib.import_module(MEMBER_PACKAGES[name])
    members: dict[str, tuple[type[ModelConfig], Builder]] = package.REGISTRATIONS
    for member, (config, build) in members.items():
        register_model(member, config, build)


install_config_lookup(config_class)

"""Configs of the classification baselines (paper Table 1): one frozen dataclass per system.

Every system is a classifier over the training keyphrases with one loss term, "cla"
(cross-entropy over the label set); it has no generator, so its stage 1 trains `[cla]` and
its stage 2 (`epochs: 0` in the shipped configs) only scores stage 1's model. The systems that
read image grids (vgg, co-att, ban) refuse a config whose data has no feature store.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from mmkp.model.config import ModelConfig, check_dropout, check_own_name, check_sizes

CLASSIFIER_TERMS = ("cla",)


@dataclass(frozen=True)
class ClassifierConfig(ModelConfig):
    """d = 2 * hidden_size is the width of every feature the classifier sees (the Bi-GRU's
    states, the projected image regions), as in MM-MKP."""

    hidden_size: int = 150  # per GRU direction
    dropout: float = 0.1

    loss_terms: ClassVar[tuple[str, ...]] = CLASSIFIER_TERMS
    reads_image: ClassVar[bool] = False

    def __post_init__(self) -> None:
        super().__post_init__()
        check_own_name(self)
        check_sizes(self, "hidden_size")
        check_dropout(self.dropout)

    def unused_terms(self, terms: tuple[str, ...], *, images: bool) -> dict[str, str]:
        if self.reads_image and not images and "cla" in terms:
            return {
                "cla": f"model {self.name!r} reads image grids and the data has none (set "
                "data.features; a text-only classifier is model avg or max)"
            }
        return {}

    @property
    def size(self) -> int:
        """d: the Bi-GRU output width, shared by the projected image regions."""
        return 2 * self.hidden_size


@dataclass(frozen=True)
class AvgConfig(ClassifierConfig):
    """AVG: Bi-GRU states, mean-pooled."""

    name: str = "avg"


@dataclass(frozen=True)
class MaxConfig(ClassifierConfig):
    """MAX: Bi-GRU states, max-pooled (MM-MKP's M_T, eq. 1)."""

    name: str = "max"


@dataclass(frozen=True)
class ImageClassifierConfig(ClassifierConfig):
    image_dim: int = 1280  # channels C of the (49, C) grids: the feature store's backbone

    reads_image: ClassVar[bool] = True

    def __post_init__(self) -> None:
        super().__post_init__()
        check_sizes(self, "image_dim")


@dataclass(frozen=True)
class VggConfig(ImageClassifierConfig):
    """VGG: the CNN's 7x7 grid only, pooled over the regions (`attention`: weighted by a
    learned query)."""

    name: str = "vgg"
    pooling: Literal["mean", "max", "attention"] = "mean"


@dataclass(frozen=True)
class CoAttConfig(ImageClassifierConfig):
    """CO-ATT (Zhang et al., IJCAI 2017): text-guided image attention, then image-guided
    text attention."""

    name: str = "co-att"


@dataclass(frozen=True)
class BanConfig(ImageClassifierConfig):
    """BAN (Kim et al., NeurIPS 2018): `glimpses` bilinear attention maps between the tokens
    and the regions, each pooled at rank `rank`, added to the tokens residually."""

    name: str = "ban"
    glimpses: int = 4
    rank: int = 300  # K, the width of the low-rank bilinear projections

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.glimpses < 1 or self.rank < 1:
            raise ValueError(f"glimpses and rank must be >= 1, got {self.glimpses} and {self.rank}")

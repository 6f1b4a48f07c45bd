"""Posts -> posts with their image inputs (OCR X_O, entities X_E) and grids, in memory.

The one code path from a post's `image` field to what the model reads of it: `prepare` runs
it and adds its store, journal and errors.jsonl; `mmkp predict --input` runs it on the posts
it streams. A post whose image cannot be used keeps no image-derived inputs and says why
(`errors`: stage "image" or "features"); the others in its batch are unaffected.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from mmkp.data.record import Post
from mmkp.features.entities import EntityServiceError
from mmkp.features.featurizer import PRECOMPUTED, ImageFeatures, ImageFeaturizer
from mmkp.features.images import ImageError, resolve


@dataclass
class FeaturizedPost:
    """A post with its image's inputs filled in, its grid, and what went wrong on the way."""

    post: Post
    grid: np.ndarray | None  # (49, C) float16; None: no image, it failed, or not asked for
    errors: list[dict[str, str]] = field(default_factory=list)


def featurize_posts(
    featurizer: ImageFeaturizer, posts: Sequence[Post], base: Path
) -> list[FeaturizedPost]:
    """Fill each post's OCR and entities from its image (relative paths under `base`) and
    return its grid; one CNN pass for the batch. Changes the posts in place."""
    config = featurizer.config
    out = [FeaturizedPost(post, None) for post in posts]
    loaded: list[tuple[FeaturizedPost, Image.Image]] = []
    for item in out:
        _clear(item.post, ocr=config.ocr, entities=config.entities)
        if item.post.image is None:
            continue
        try:
            loaded.append((item, featurizer.load(resolve(item.post.image, base))))
        except ImageError as exc:
            item.errors.append({"stage": "image", "reason": exc.reason})
        except Exception as exc:  # the safety net: one post, whatever it raises
            item.errors.append({"stage": "image", "reason": reason(exc)})
    for (item, _), found in zip(loaded, _features(featurizer, loaded), strict=True):
        if isinstance(found, str):
            item.errors.append({"stage": "features", "reason": found})
            continue
        _fill(item.post, found, ocr=config.ocr, entities=config.entities)
        item.errors.extend(found.errors)
        item.grid = found.grid
    return out


def _features(
    featurizer: ImageFeaturizer, loaded: list[tuple[FeaturizedPost, Image.Image]]
) -> list[ImageFeatures | str]:
    """Each image's features, or why they failed: a batch that raises is redone image by
    image, so only the image at fault fails."""
    try:
        return list(featurizer.featurize([image for _, image in loaded]))
    except EntityServiceError:
        raise  # no image can succeed: the run stops (prepare resumes it)
    except Exception as exc:
        if len(loaded) == 1:
            return [reason(exc)]
        return [_features(featurizer, [item])[0] for item in loaded]


def _clear(post: Post, *, ocr: bool, entities: str) -> None:
    """Until its image is read a post has no image-derived inputs (the dataset's own
    entities stay with `precomputed`, its own OCR with `ocr=False`)."""
    post.extra["has_image"] = False
    if ocr:
        post.ocr = ""
        post.extra["ocr_lines"] = []
    if entities != PRECOMPUTED:
        post.entities = []


def _fill(post: Post, features: ImageFeatures, *, ocr: bool, entities: str) -> None:
    """The image's inputs into the post, leaving what `_clear` kept (same key order)."""
    if entities != PRECOMPUTED:
        post.entities = features.entities
    if ocr:
        post.ocr = features.ocr.text
        post.extra["ocr_lines"] = [line.to_json() for line in features.ocr.lines]
    post.extra["has_image"] = True


def reason(exc: Exception) -> str:
    """An unexpected exception as a one-line reason for an errors file."""
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__

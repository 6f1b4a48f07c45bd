"""Image features in memory: the OCR text, visual entities and region grid of images.

This is the one code path from an image to the model's image-derived inputs: `mmkp prepare`
wraps it (adding its journal, feature store and posts) and the predictor calls it for a
single image, so a typed post is featurized exactly like the training data. It writes no
files, touches no store or journal and leaves torch's global thread count alone: callers own
those policies (`prepare` sets torch threads around its run).

    with ImageFeaturizer(FeaturizerConfig(backbone="efficientnet-lite0")) as featurizer:
        features = featurizer.featurize_one("a.jpg")  # path, URL, bytes or PIL image
        features.ocr.text, features.entities, features.grid, features.errors
        images = [featurizer.load(ref) for ref in refs]  # ImageError names a bad one
        batch = featurizer.featurize(images, grid=False)  # one CNN pass for all

API:

    FeaturizerConfig(backbone: str = "efficientnet-lite0", weights: str | None = None,
                     entities: str = "local", ocr: bool = True,
                     ocr_config: OcrConfig = OcrConfig(), images: ImageLoadConfig = ...,
                     grid_side: int | None = 7)  # ValueError if the backbone's grid differs
    ImageFeaturizer(config: FeaturizerConfig | None = None, *, ocr_workers: int | None = None)
        # loads every model now; ocr_workers: OCR threads (default min(2, cores))
        .load(image: str | Path | bytes | PIL.Image.Image) -> PIL.Image.Image  # RGB
        .featurize(images: Sequence[PIL.Image.Image], *, grid: bool = True)
            -> list[ImageFeatures]
        .featurize_one(image: str | Path | bytes | PIL.Image.Image, *, grid: bool = True)
            -> ImageFeatures
        .close()  # also on leaving `with`
    ImageFeatures(ocr: OcrResult, entities: list[Entity], grid: np.ndarray | None,
                  errors: list[dict[str, str]])

`PrepareConfig` extends `FeaturizerConfig`, so a prepare config builds a featurizer as is.

- `load` raises `ImageError` (its `ref` names the image; bytes are named by their length).
  Paths and URLs read as in `prepare`; bytes get the same checks and decoding as a file
  (size limit, pixel limit, EXIF rotation, RGB); a PIL image (any mode, lazily opened or
  not, shared between threads or not) becomes a private, loaded, upright RGB copy.
- `featurize` keeps the input order. `grid` is the (g * g, C) float16 grid as the feature
  store holds it (g: the backbone's grid side, 7 for every shipped one), None when
  `grid=False` (then no CNN runs unless local entities need its pass).
- Problems with one image that leave the others fine are `errors` entries, `{"stage":
  "entities" | "ocr", "reason": str}`, in that order, as `prepare` records them; the failed
  part is empty. `EntityServiceError` (credentials, quota) is raised: no image can succeed.
- `ocr=False`: empty OCR for every image. `entities="precomputed"`: no entities, since they
  come with the posts, not from the image (`prepare` keeps the posts' own).
- OCR runs on the featurizer's own worker threads (`ocr_workers`, each with its own engine,
  one image at a time) while the CNN runs on the caller's thread; onnxruntime releases the
  GIL, so they overlap. Each image is decoded once (`load`) and the same pixels serve OCR,
  the grid and the entities.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from queue import SimpleQueue
from types import TracebackType

import numpy as np
from PIL import Image

from mmkp.data.batch import GRID_SIDE
from mmkp.data.record import Entity
from mmkp.features import backbones
from mmkp.features.entities import EntityError, EntityProvider, make_provider
from mmkp.features.entities.local import LocalEntities
from mmkp.features.grid import extract
from mmkp.features.images import ImageLoadConfig, ImageSource, load_any
from mmkp.features.ocr import OcrConfig, OcrEngine, OcrResult

NO_TEXT = OcrResult("", ())
PRECOMPUTED = "precomputed"  # the entity provider whose entities come with the posts


@dataclass(frozen=True)
class FeaturizerConfig:
    """Which models featurize an image, and the limits images are loaded under."""

    backbone: str = backbones.DEFAULT_BACKBONE
    weights: str | None = None  # weights file for the backbone (required for vgg16 / vgg19)
    entities: str = "local"  # local | precomputed | baidu
    ocr: bool = True  # False: no OCR (prepare keeps the posts' own `ocr` field)
    ocr_config: OcrConfig = field(default_factory=OcrConfig)
    images: ImageLoadConfig = field(default_factory=ImageLoadConfig)
    # The grid side the grids are for: the models read 7 x 7 = 49 regions (eq. 2), so a
    # backbone with another grid is refused here, not when a model meets its grids. None: any.
    grid_side: int | None = GRID_SIDE


@dataclass(frozen=True)
class ImageFeatures:
    """What one image gives the model, and what went wrong on the way (stage + reason)."""

    ocr: OcrResult
    entities: list[Entity]
    grid: np.ndarray | None  # (g * g, C) float16 (49 regions for 7x7); None when not asked for
    errors: list[dict[str, str]]


class ImageFeaturizer:
    """The loaded backbone, entity provider and OCR engine, and OCR's worker thread."""

    def __init__(self, config: FeaturizerConfig | None = None, *, ocr_workers: int | None = None):
        self.config = config or FeaturizerConfig()
        check_grid_side(self.config)
        workers = default_ocr_workers() if ocr_workers is None else ocr_workers
        if workers < 1:
            raise ValueError(f"ocr_workers must be >= 1, got {workers}")
        self._backbone = backbones.load_backbone(self.config.backbone, self.config.weights)
        self._provider = self._entity_provider()
        self._shared = self._shared_classifier()
        # One engine per OCR thread (an engine's sessions serve one image at a time); a
        # thread takes a free engine for each image and gives it back.
        self._engines: SimpleQueue[OcrEngine] = SimpleQueue()
        for slot in range(workers if self.config.ocr else 0):
            self._engines.put(OcrEngine(self.config.ocr_config, slot=slot))
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mmkp-ocr")

    def _entity_provider(self) -> EntityProvider | None:
        """The configured provider; None for `precomputed`, whose entities are the posts'."""
        if self.config.entities == PRECOMPUTED:
            return None
        # VGG has no ImageNet head here: local entities then come from the default classifier.
        classifies = self._backbone.spec.classifies
        classifier = self.config.backbone if classifies else backbones.DEFAULT_BACKBONE
        return make_provider(self.config.entities, model=classifier)

    def _shared_classifier(self) -> LocalEntities | None:
        """The local provider when it classifies with the grid's own network: then one
        forward pass gives both grids and entities."""
        provider = self._provider
        if isinstance(provider, LocalEntities) and provider.config.model == self.config.backbone:
            return provider
        return None

    def __enter__(self) -> ImageFeaturizer:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop the OCR thread (after the job in flight, so no OCR outlives the featurizer)."""
        self._pool.shutdown(wait=True)

    def load(self, image: ImageSource) -> Image.Image:
        """A path, URL, encoded bytes or PIL image as upright RGB; raises ImageError."""
        return load_any(image, self.config.images)

    def featurize_one(self, image: ImageSource, *, grid: bool = True) -> ImageFeatures:
        """Load and featurize one image of any kind `load` accepts."""
        return self.featurize([self.load(image)], grid=grid)[0]

    def featurize(self, images: Sequence[Image.Image], *, grid: bool = True) -> list[ImageFeatures]:
        """OCR, entities and (when `grid`) grids of loaded RGB images, in their order."""
        if not images:
            return []
        # Submitted first, so OCR runs on its threads while the CNN below runs on this one.
        jobs = [self._pool.submit(self._read, image) for image in images] if self.config.ocr else []
        grids, entities = self._grids_and_entities(images, grid)
        texts = [job.result() for job in jobs] if jobs else [NO_TEXT] * len(images)
        return [
            _features(text, found, None if grids is None else grids[i])
            for i, (text, found) in enumerate(zip(texts, entities, strict=True))
        ]

    def _read(self, image: Image.Image) -> OcrResult | str:
        """One image's OCR, or why it failed: one unreadable image must not fail the rest."""
        engine = self._engines.get()
        try:
            return engine.read(image)
        except Exception as exc:
            return f"OCR failed: {exc}"
        finally:
            self._engines.put(engine)

    def _grids_and_entities(
        self, images: Sequence[Image.Image], grid: bool
    ) -> tuple[np.ndarray | None, Sequence[list[Entity] | EntityError]]:
        """(B, g * g, C) grids (None unless `grid`) and each image's entities or EntityError."""
        batch = None
        if grid or self._shared is not None:
            batch = extract(self._backbone, images, with_probs=self._shared is not None)
        grids = batch.grids if grid and batch is not None else None
        if self._shared is not None:
            assert batch is not None and batch.probs is not None  # classifying backbone
            return grids, self._shared.from_probs(batch.probs)
        if self._provider is None:
            return grids, [[] for _ in images]
        # Image providers read only the images; `posts` is for `precomputed`, not used here.
        return grids, self._provider.recognise((), images)


def default_ocr_workers() -> int:
    """OCR threads by default: one per core up to two. OCR costs 3 to 8 times the CNN's
    pass, so two OCR threads beside the CNN keep both cores of a small machine busy; more
    than two gain little over the CNN's own threads."""
    return max(1, min(2, os.cpu_count() or 1))


def check_grid_side(config: FeaturizerConfig) -> None:
    """Refuse a backbone whose grid is not the `config.grid_side` the grids are for."""
    side = backbones.spec(config.backbone).grid_side
    wanted = config.grid_side
    if wanted is not None and side != wanted:
        raise ValueError(
            f"backbone {config.backbone!r} gives a {side}x{side} grid ({side * side} regions), "
            f"but the models read a {wanted}x{wanted} grid ({wanted * wanted} regions): register "
            f"it with an input size that gives {wanted}x{wanted}, or set grid_side=None"
        )


def _features(
    text: OcrResult | str, found: list[Entity] | EntityError, grid: np.ndarray | None
) -> ImageFeatures:
    """One image's features, with its failed parts emptied and recorded as errors."""
    errors: list[dict[str, str]] = []
    if isinstance(found, EntityError):
        errors.append({"stage": "entities", "reason": str(found)})
        found = []
    if isinstance(text, str):
        errors.append({"stage": "ocr", "reason": text})
        text = NO_TEXT
    return ImageFeatures(text, found, grid, errors)

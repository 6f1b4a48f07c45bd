"""The Python prediction API: a model directory in, ranked keyphrases out, no files between.

    predictor = Predictor.load("runs/cmkp/model")
    result = predictor.predict("So excited to see these two at #KCA tomorrow!", image="a.jpg")
    result.keyphrases      # [ScoredKeyphrase("kca", -0.21), ...] best first
    result.match_score     # s_c, the image-text match (eq. 3); None without an image
    result.region_scores   # A as a 7x7 grid (eq. 4); None without an image
    result.post            # the inputs as the model saw them (text, OCR, entities)

Raw text goes through `mmkp.data.tokenize.normalise`, the dataset's tokenisation, and an
image (a path, an http(s) URL, bytes or a PIL image) through the same in-memory featurizer
as training data (`mmkp.features.featurizer`: OCR, visual entities, grid features), so a
typed post looks to the model like the posts it was trained on. `predict_many` streams over
posts already in the dataset's form (as training reads them), batch by batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from mmkp.data.batch import GRID_SIDE, GridLookup
from mmkp.data.batching import in_length_order
from mmkp.data.processor import TextProcessor
from mmkp.data.record import Post
from mmkp.data.tokenize import normalise
from mmkp.decoding.config import DecodeConfig
from mmkp.decoding.generate import ScoredKeyphrase
from mmkp.decoding.heads import predict_keyphrases
from mmkp.evaluation.prediction_files import Prediction
from mmkp.features import backbones
from mmkp.features.featurizer import FeaturizerConfig, ImageFeaturizer
from mmkp.features.images import ImageError
from mmkp.inference.checkpoint import Checkpoint, load_checkpoint
from mmkp.model.outputs import Encoded
from mmkp.model.protocol import INPUT_GRID

INPUT_ID = "input"  # the id `predict` gives the single post it builds
CHUNK = 4096  # posts sorted by length together in `predict_many` (bounded memory)
ImageInput = str | Path | bytes | Image.Image


@dataclass(frozen=True)
class PredictionResult:
    id: str
    keyphrases: list[ScoredKeyphrase]  # best first, distinct
    match_score: float | None  # s_c in [0, 1]; None: no image, or no matching head
    region_scores: np.ndarray | None  # (7, 7) A, row-major over the grid; None likewise
    post: Post  # the inputs as the model saw them (normalised text, OCR, entities)

    @property
    def texts(self) -> list[str]:
        return [kp.text for kp in self.keyphrases]

    def to_prediction(self) -> Prediction:
        return Prediction(self.id, self.texts, [kp.score for kp in self.keyphrases])

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "keyphrases": self.texts,
            "scores": [kp.score for kp in self.keyphrases],
            "match_score": self.match_score,
            "region_scores": None if self.region_scores is None else self.region_scores.tolist(),
        }


def featurizer_config(checkpoint: Checkpoint) -> FeaturizerConfig:
    """The featurizer the training features came from: the checkpoint's backbone, or the
    default backbone when the model reads grids as wide as its."""
    backbone = checkpoint.config.backbone
    if backbone is not None:
        return FeaturizerConfig(backbone=backbone)
    dim = getattr(checkpoint.config.model, "image_dim", None)
    default = backbones.DEFAULT_BACKBONE
    if INPUT_GRID in checkpoint.model.inputs and backbones.spec(default).channels != dim:
        raise ValueError(
            f"the model reads {dim}-channel grids but its training feature store is neither "
            "named in the checkpoint nor here to tell the backbone; pass "
            "Predictor.load(..., featurizer=ImageFeaturizer(FeaturizerConfig(backbone=..., "
            "weights=...)))"
        )
    return FeaturizerConfig(backbone=default)


class Predictor:
    def __init__(
        self,
        checkpoint: Checkpoint,
        *,
        decode: DecodeConfig | None = None,
        featurizer: ImageFeaturizer | None = None,
    ):
        self.checkpoint = checkpoint
        self.model = checkpoint.model.eval()
        self.decode = decode or checkpoint.config.decode
        self.featurizer = featurizer  # built at the first image when None
        self.processor = TextProcessor(checkpoint.vocab, checkpoint.labels, checkpoint.config.text)

    @classmethod
    def load(
        cls,
        directory: str | Path,
        *,
        decode: DecodeConfig | None = None,
        featurizer: ImageFeaturizer | None = None,
    ) -> Predictor:
        """A predictor for a model directory (model.safetensors, config.json, ...)."""
        return cls(load_checkpoint(directory), decode=decode, featurizer=featurizer)

    @property
    def uses_image(self) -> bool:
        """Whether the model reads grid features (False for text-only models)."""
        return INPUT_GRID in self.model.inputs

    def predict(self, text: str, image: ImageInput | None = None) -> PredictionResult:
        """Keyphrases for one raw post; `image` is a file path, an http(s) URL, bytes or a PIL
        image, featurized in memory."""
        ref = str(image) if isinstance(image, str | Path) else None
        post = Post(INPUT_ID, normalise(text), image=ref)
        if not post.text.strip():
            raise ValueError(f"the text {text!r} has no words after normalisation")
        grids: dict[str, np.ndarray] = {}
        if image is not None:
            if self.featurizer is None:
                self.featurizer = ImageFeaturizer(featurizer_config(self.checkpoint))
            try:
                features = self.featurizer.featurize_one(image, grid=self.uses_image)
            except ImageError as exc:
                raise ValueError(f"image {exc}") from exc
            post.ocr = features.ocr.text
            post.entities = features.entities
            post.extra["ocr_lines"] = [line.to_json() for line in features.ocr.lines]
            post.extra["has_image"] = True  # as `prepare` marks a post whose image it read
            if features.grid is not None:
                grids[post.id] = features.grid
        return next(self.predict_many([post], grid_lookup=grids.get))

    def predict_many(
        self,
        posts: Iterable[Post],
        batch_size: int = 32,
        *,
        grid_lookup: GridLookup | None = None,
    ) -> Iterator[PredictionResult]:
        """Results in the order of `posts`, streamed: posts are read `CHUNK` at a time and
        batched by source length within a chunk. Grid features by post id come from
        `grid_lookup` (e.g. a FeatureStore's `get`); text only where it gives None."""
        if batch_size < 1:  # checked now, not at the first result
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        return self._stream(posts, batch_size, grid_lookup)

    def _stream(
        self, posts: Iterable[Post], batch_size: int, grid_lookup: GridLookup | None
    ) -> Iterator[PredictionResult]:
        chunk: list[Post] = []
        for post in posts:
            chunk.append(post)
            if len(chunk) == CHUNK:
                yield from self._predict_chunk(chunk, batch_size, grid_lookup)
                chunk = []
        if chunk:
            yield from self._predict_chunk(chunk, batch_size, grid_lookup)

    @torch.no_grad()
    def _predict_chunk(
        self, posts: Sequence[Post], batch_size: int, grid_lookup: GridLookup | None
    ) -> list[PredictionResult]:
        examples = self.processor.examples(posts, one2one=False)
        lookup = grid_lookup if self.uses_image else None

        def decode(batches: Iterable[Any]) -> list[PredictionResult]:
            results = []
            for batch in batches:
                encoded = self.model.encode(batch)
                rows = predict_keyphrases(
                    self.model,
                    batch,
                    self.checkpoint.vocab,
                    self.checkpoint.labels,
                    self.decode,
                    encoded=encoded,
                )
                for row, keyphrases in enumerate(rows):
                    post = posts[int(batch.post_index[row])]
                    results.append(_result(post, keyphrases, encoded, row, batch.has_image))
            return results

        return in_length_order(examples, batch_size, lookup, decode)


def _result(
    post: Post,
    keyphrases: list[ScoredKeyphrase],
    encoded: Encoded,
    row: int,
    has_image: torch.Tensor,
) -> PredictionResult:
    """One row's keyphrases with the image diagnostics of the rows that had an image."""
    match = region = None
    if bool(has_image[row]) and encoded.match_score is not None:
        match = float(encoded.match_score[row])
    if bool(has_image[row]) and encoded.region_scores is not None:
        region = encoded.region_scores[row].reshape(GRID_SIDE, GRID_SIDE).cpu().numpy()
    return PredictionResult(post.id, keyphrases, match, region, post)

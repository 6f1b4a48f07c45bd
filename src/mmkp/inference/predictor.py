"""The Python prediction API: a model directory in, ranked keyphrases out, no files between.

    predictor = Predictor.load("runs/cmkp/model")
    result = predictor.predict("So excited to see these two at #KCA tomorrow!", image="a.jpg")
    result.keyphrases      # [ScoredKeyphrase("kca", -0.21), ...] best first
    result.match_score     # s_c, the image-text match (eq. 3); None without an image
    result.region_scores   # A as a 7x7 grid (eq. 4); None without an image
    result.regions         # sigmoid(A), the gate each region gets (eq. 5), 7x7
    result.ocr             # the OCR lines read from the image: text, score, 4-point box
    result.entities        # the visual entities with their scores
    result.post            # the inputs as the model saw them (text, OCR, entities)

    # many raw posts, images featurized in one CNN pass, decoded together; a bad post is a
    # ValueError in its place and leaves the others alone
    predictor.predict_batch([RawPost("game day!", image=png_bytes), RawPost("???")])

Raw text goes through `mmkp.data.tokenize.normalise`, the dataset's tokenisation, and an
image (a path, an http(s) URL, bytes or a PIL image) through the same in-memory featurizer
as training data (`mmkp.features.featurizer`: OCR, visual entities, grid features), so a
typed post looks to the model like the posts it was trained on. Text with no letter or
digit after normalisation (empty, punctuation or emoji only) is refused. `predict_many`
streams over posts already in the dataset's form (as training reads them), batch by batch.
These diagnostics are what `mmkp predict --json`, `mmkp explain` and `mmkp serve` show.
"""

from __future__ import annotations

import dataclasses
import re
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
from mmkp.data.record import Entity, Post
from mmkp.data.tokenize import normalise
from mmkp.decoding.config import DecodeConfig
from mmkp.decoding.generate import ScoredKeyphrase
from mmkp.decoding.heads import predict_keyphrases
from mmkp.evaluation.prediction_files import Prediction
from mmkp.features import backbones
from mmkp.features.featurizer import FeaturizerConfig, ImageFeatures, ImageFeaturizer
from mmkp.features.images import ImageError
from mmkp.features.ocr import OcrLine
from mmkp.inference.checkpoint import Checkpoint, load_checkpoint
from mmkp.model.outputs import Encoded
from mmkp.model.protocol import INPUT_GRID

INPUT_ID = "input"  # the id `predict` gives the single post it builds
CHUNK = 4096  # posts sorted by length together in `predict_many` (bounded memory)
ImageInput = str | Path | bytes | Image.Image
_WORD = re.compile(r"[a-z0-9]")  # normalised text is lowercase ASCII: a word has one of these


@dataclass(frozen=True)
class RawPost:
    """A post as a user has it: raw text and an optional image (path, URL, bytes or PIL)."""

    text: str
    image: ImageInput | None = None
    id: str = INPUT_ID


@dataclass(frozen=True)
class PreparedPost:
    """A raw post made model-ready in memory: the normalised post and its grid, if any."""

    post: Post
    grid: np.ndarray | None  # (49, C) float16; None without an image or for text models


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

    @property
    def regions(self) -> np.ndarray | None:
        """sigmoid(A) (7, 7): how much of each region reaches the decoder (eq. 5)."""
        if self.region_scores is None:
            return None
        return 1.0 / (1.0 + np.exp(-self.region_scores.astype(np.float64)))

    @property
    def ocr(self) -> list[OcrLine]:
        """Every OCR line of the image in reading order (also those under the threshold
        that kept them out of the OCR text), as the featurizer or `prepare` recorded them."""
        return [
            OcrLine(line["text"], float(line["score"]), tuple(tuple(p) for p in line["box"]))
            for line in self.post.extra.get("ocr_lines", [])
        ]

    @property
    def entities(self) -> list[Entity]:
        return self.post.entities

    def to_prediction(self) -> Prediction:
        return Prediction(self.id, self.texts, [kp.score for kp in self.keyphrases])

    def to_dict(self, *, diagnostics: bool = False) -> dict[str, Any]:
        """The JSON form (`mmkp predict --json`); `diagnostics` adds sigmoid(A), the OCR lines
        and the entities with their scores."""
        out: dict[str, Any] = {
            "id": self.id,
            "keyphrases": self.texts,
            "scores": [kp.score for kp in self.keyphrases],
            "match_score": self.match_score,
            "region_scores": None if self.region_scores is None else self.region_scores.tolist(),
        }
        if diagnostics:
            out["regions"] = None if self.regions is None else self.regions.tolist()
            out["ocr"] = [line.to_json() for line in self.ocr]
            out["entities"] = [{"name": e.name, "score": e.score} for e in self.entities]
        return out


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
    """A trained model loaded once, predicting keyphrases for many raw posts (text + image).

        predictor = Predictor.load("runs/demo/mm-mkp/model")
        result = predictor.predict("game day at #kca!", image="photo.jpg")
        [(kp.text, kp.score) for kp in result.keyphrases], result.match_score

    `load` reads a model directory (model.safetensors, config.json, vocab.json, labels.json);
    `decode` is the search's settings (the checkpoint's own unless given); `featurizer` turns
    images into OCR, entities and grid features, built at the first image when None (text-only
    use loads no CNN). `predict` takes one post, `predict_batch` many raw posts at once,
    `predict_many` streams posts already in the dataset's form. Predicting leaves the model
    unchanged (eval mode): load once, predict many.
    """

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
        image, featurized in memory. Raises ValueError for text without words or a bad image."""
        (result,) = self.predict_batch([RawPost(text, image)])
        if isinstance(result, ValueError):
            raise result
        return result

    def predict_batch(
        self, posts: Sequence[RawPost], *, decode: DecodeConfig | None = None
    ) -> list[PredictionResult | ValueError]:
        """`predict` for many raw posts at once, in their order: a post whose text has no
        words or whose image cannot be read is a ValueError in its place."""
        prepared = self.prepare(posts)
        results = iter(
            self.decode_prepared(
                [p for p in prepared if isinstance(p, PreparedPost)], decode=decode
            )
        )
        return [p if isinstance(p, ValueError) else next(results) for p in prepared]

    def prepare(self, posts: Sequence[RawPost]) -> list[PreparedPost | ValueError]:
        """Normalise each text and featurize every image in memory, one CNN pass for all."""
        out: list[PreparedPost | ValueError] = []
        loaded: list[tuple[int, Image.Image]] = []
        for raw in posts:
            try:
                post = _raw_post(raw)
                if raw.image is not None:
                    loaded.append((len(out), self._featurizer().load(raw.image)))
            except ValueError as exc:  # ImageError is one
                out.append(ValueError(f"image {exc}") if isinstance(exc, ImageError) else exc)
                continue
            out.append(PreparedPost(post, None))
        if loaded:
            images = [image for _, image in loaded]
            for (i, _), features in zip(
                loaded, self._featurizer().featurize(images, grid=self.uses_image), strict=True
            ):
                post = out[i].post  # type: ignore[union-attr]
                out[i] = PreparedPost(post, _add_features(post, features))
        return out

    def decode_prepared(
        self, posts: Sequence[PreparedPost], *, decode: DecodeConfig | None = None
    ) -> list[PredictionResult]:
        """Results of prepared posts in their order, decoded together (`decode` overrides the
        predictor's settings). Their ids need not be distinct: grids are matched by place."""
        if not posts:
            return []
        keyed = [dataclasses.replace(p.post, id=str(i)) for i, p in enumerate(posts)]
        grids = {str(i): p.grid for i, p in enumerate(posts) if p.grid is not None}
        results = self._predict_chunk(keyed, len(keyed), grids.get, decode or self.decode)
        return [
            dataclasses.replace(result, id=p.post.id, post=p.post)
            for result, p in zip(results, posts, strict=True)
        ]

    def _featurizer(self) -> ImageFeaturizer:
        if self.featurizer is None:  # built at the first image: text-only use loads no CNN
            self.featurizer = ImageFeaturizer(featurizer_config(self.checkpoint))
        return self.featurizer

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
                yield from self._predict_chunk(chunk, batch_size, grid_lookup, self.decode)
                chunk = []
        if chunk:
            yield from self._predict_chunk(chunk, batch_size, grid_lookup, self.decode)

    @torch.no_grad()
    def _predict_chunk(
        self,
        posts: Sequence[Post],
        batch_size: int,
        grid_lookup: GridLookup | None,
        settings: DecodeConfig,
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
                    settings,
                    encoded=encoded,
                )
                for row, keyphrases in enumerate(rows):
                    post = posts[int(batch.post_index[row])]
                    results.append(_result(post, keyphrases, encoded, row, batch.has_image))
            return results

        index = self.checkpoint.retrieval
        neighbours = None if index is None else index.lookup(posts)
        return in_length_order(examples, batch_size, lookup, decode, neighbours=neighbours)


def normalised_text(text: str) -> str:
    """Raw text as the dataset has it; ValueError when no word (letter or digit) is left."""
    normalised = normalise(text)
    if not _WORD.search(normalised):
        raise ValueError(f"the text {text!r} has no words after normalisation")
    return normalised


def _raw_post(raw: RawPost) -> Post:
    ref = str(raw.image) if isinstance(raw.image, str | Path) else None
    return Post(raw.id, normalised_text(raw.text), image=ref)


def _add_features(post: Post, features: ImageFeatures) -> np.ndarray | None:
    """The image's OCR and entities into `post` (as `prepare` fills them); its grid back."""
    post.ocr = features.ocr.text
    post.entities = features.entities
    post.extra["ocr_lines"] = [line.to_json() for line in features.ocr.lines]
    post.extra["has_image"] = True  # as `prepare` marks a post whose image it read
    return features.grid


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

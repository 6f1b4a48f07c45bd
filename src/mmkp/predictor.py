"""The Python prediction API: a checkpoint directory in, ranked keyphrases out.

    predictor = Predictor.load("runs/cmkp/model")
    result = predictor.predict("So excited to see these two at #KCA tomorrow!", image="a.jpg")
    result.keyphrases      # [ScoredKeyphrase("kca", -0.21), ...] best first
    result.match_score     # s_c, the image-text match (eq. 3); None without an image
    result.region_scores   # A as a 7x7 grid (eq. 4); None without an image

Raw text goes through `mmkp.data.tokenize.normalise`, the dataset's tokenisation, and an
image through the same preparation as training data (`ImagePreparer`: OCR, visual entities,
grid features), so a typed post looks to the model like the posts it was trained on.
`predict_posts` decodes many posts in batches; posts read from files are used as they are
(in the dataset's form, as training reads them).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from mmkp.config import DecodeConfig
from mmkp.data.batch import Batch
from mmkp.data.batching import collate, make_examples
from mmkp.data.jsonl import read_posts, write_posts
from mmkp.data.record import Post
from mmkp.data.tokenize import normalise
from mmkp.decoding.generate import ScoredKeyphrase, generate_keyphrases
from mmkp.evaluation.predictions import Prediction
from mmkp.features import backbones
from mmkp.features.prepare import PrepareConfig, prepare
from mmkp.features.store import FeatureStore
from mmkp.training.checkpoint import Checkpoint, load_checkpoint
from mmkp.training.data import example_options

GridLookup = Callable[[str], np.ndarray | None]
GRID_SIDE = 7  # the image grid is 7 x 7 regions (R = 49)
INPUT_ID = "input"  # the id `predict` gives the single post it builds


@dataclass(frozen=True)
class PreparedImage:
    post: Post  # the post with OCR text and visual entities of its image filled in
    grid: np.ndarray | None  # (49, C) region features; None if the model needs none


class ImagePreparer(Protocol):
    def __call__(self, post: Post, *, grid: bool) -> PreparedImage:
        """OCR, visual entities and (when `grid`) region features of `post.image`."""
        ...


class PrepareImages:
    """`ImagePreparer` that runs `mmkp prepare`'s own pipeline (`features.prepare.prepare`)
    on the one post in a temporary folder: the same image loading, OCR, entities and grid
    features as training data, by the same code. Models load once per process."""

    def __init__(self, config: PrepareConfig, *, images_dir: str | Path | None = None):
        self.config = config
        self.images_dir = Path.cwd() if images_dir is None else Path(images_dir)

    @classmethod
    def for_checkpoint(cls, checkpoint: Checkpoint) -> PrepareImages:
        """The backbone the training features came from: the training feature store's, or
        the default backbone when its grid width matches the model's."""
        features = checkpoint.config.data.features
        if features is not None and Path(features).is_dir():
            return cls(PrepareConfig(backbone=FeatureStore.open(features).backbone))
        dim, default = checkpoint.config.model.image_dim, backbones.DEFAULT_BACKBONE
        if checkpoint.config.model.use_image and backbones.spec(default).channels != dim:
            raise ValueError(
                f"the model reads {dim}-channel grids but its training feature store "
                f"({features}) is not here to tell the backbone; pass "
                "Predictor.load(..., images=PrepareImages(PrepareConfig(backbone=..., "
                "weights=...)))"
            )
        return cls(PrepareConfig(backbone=default))

    def __call__(self, post: Post, *, grid: bool) -> PreparedImage:
        with tempfile.TemporaryDirectory(prefix="mmkp-predict-") as tmp:
            source, out = Path(tmp) / "post.jsonl", Path(tmp) / "prepared"
            write_posts(source, [post])
            prepare(source, out, images_dir=self.images_dir, config=self.config)
            for line in (out / "errors.jsonl").read_text(encoding="utf-8").splitlines():
                error = json.loads(line)
                if error["stage"] == "image":
                    raise ValueError(f"image {post.image}: {error['reason']}")
            (prepared,) = read_posts(out / "posts.jsonl")
            features = FeatureStore.open(out / "features").get(post.id) if grid else None
            # Copied out of the store's memory map before the folder goes.
            return PreparedImage(prepared, None if features is None else np.array(features))


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


class Predictor:
    def __init__(
        self,
        checkpoint: Checkpoint,
        *,
        decode: DecodeConfig | None = None,
        images: ImagePreparer | None = None,
    ):
        self.checkpoint = checkpoint
        self.model = checkpoint.model.eval()
        self.decode = decode or checkpoint.config.decode
        self.images = images

    @classmethod
    def load(
        cls,
        directory: str | Path,
        *,
        decode: DecodeConfig | None = None,
        images: ImagePreparer | None = None,
    ) -> Predictor:
        """A predictor for a checkpoint directory (model.safetensors, config.json, ...)."""
        return cls(load_checkpoint(directory), decode=decode, images=images)

    @property
    def uses_image(self) -> bool:
        """Whether the model reads grid features (False for text-only models)."""
        return self.checkpoint.config.model.use_image

    def predict(self, text: str, image: str | Path | None = None) -> PredictionResult:
        """Keyphrases for one raw post; `image` is a file path or an http(s) URL, prepared
        by `images` (default: `PrepareImages.for_checkpoint`, loaded at the first image)."""
        post = Post(INPUT_ID, normalise(text), image=None if image is None else str(image))
        if not post.text.strip():
            raise ValueError(f"the text {text!r} has no words after normalisation")
        grids: dict[str, np.ndarray] = {}
        if image is not None:
            if self.images is None:
                self.images = PrepareImages.for_checkpoint(self.checkpoint)
            prepared = self.images(post, grid=self.uses_image)
            post = prepared.post
            if prepared.grid is not None:
                grids[post.id] = prepared.grid
        return self.predict_posts([post], grid_lookup=grids.get)[0]

    @torch.no_grad()
    def predict_posts(
        self, posts: Sequence[Post], batch_size: int = 32, *, grid_lookup: GridLookup | None = None
    ) -> list[PredictionResult]:
        """Results in the order of `posts`; grid features by post id from `grid_lookup`
        (e.g. a FeatureStore's `get`), text only where it gives None."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        checkpoint = self.checkpoint
        examples = make_examples(
            posts,
            checkpoint.vocab,
            checkpoint.labels,
            one2one=False,
            **example_options(checkpoint.config.data),
        )
        lookup = grid_lookup if self.uses_image else None
        # Similar lengths batched together pad less; results go back to the input order.
        order = sorted(range(len(examples)), key=lambda i: len(examples[i].src_tokens))
        results: dict[int, PredictionResult] = {}
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            batch = collate([examples[i] for i in chunk], checkpoint.vocab, lookup)
            results.update(zip(chunk, self._decode(batch, [posts[i] for i in chunk]), strict=True))
        return [results[i] for i in range(len(examples))]

    def _decode(self, batch: Batch, posts: Sequence[Post]) -> list[PredictionResult]:
        encoded = self.model.encode(batch)
        decode = self.decode
        rows = generate_keyphrases(
            self.model,
            batch,
            self.checkpoint.vocab,
            **asdict(decode),  # DecodeConfig's fields are the search's options
            encoded=encoded,
        )
        has_image = batch.has_image.tolist()
        results = []
        for row, (post, keyphrases) in enumerate(zip(posts, rows, strict=True)):
            match = region = None
            if has_image[row] and encoded.match_score is not None:
                match = float(encoded.match_score[row])
            if has_image[row] and encoded.region_scores is not None:
                region = encoded.region_scores[row].reshape(GRID_SIDE, GRID_SIDE).cpu().numpy()
            results.append(PredictionResult(post.id, keyphrases, match, region, post))
        return results

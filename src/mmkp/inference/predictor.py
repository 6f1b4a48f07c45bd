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

    # the same in steps, each raising for its own post (what `mmkp serve` batches):
    loaded = predictor.load_post(RawPost("game day!", image="a.jpg"))  # ValueError: bad post
    results = predictor.decode_prepared(predictor.featurize([loaded]))

    Predictor.load("runs/cmkp/model", device="cuda")  # mmkp.devices: auto | cpu | cuda[:N]
    Predictor.from_pretrained("owner/name")  # a Hub repo id too (the `hub` extra)
    Predictor.load("zero-shot")  # the built-in zero-shot model: no training, no directory
    Predictor.load(["seed1/model", "seed2/model"])  # an ensemble, decoded as one (below)

Raw text goes through `mmkp.data.tokenize.normalise`, the dataset's tokenisation, and an
image (a path, an http(s) URL, bytes or a PIL image) through the same in-memory featurizer
as training data (`mmkp.features.featurizer`: OCR, visual entities, grid features), so a
typed post looks to the model like the posts it was trained on. Text with no letter or
digit after normalisation (empty, punctuation or emoji only) is refused. `predict_many`
streams over posts already in the dataset's form (as training reads them), batch by batch.
These diagnostics are what `mmkp predict --json`, `mmkp explain` and `mmkp serve` show.

Several model directories (trained with one data and vocabulary config, e.g. different
seeds) load as an ensemble: one search whose step log-probabilities are the mean of the
members' (`mmkp.decoding.ensemble`), on batches made by the first member's processor, with its
decode settings; the directories are checked to agree first (`mmkp.inference.ensemble`). A
list of one directory is that model alone, bit for bit.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from mmkp.data.batch import GRID_SIDE, GridLookup
from mmkp.data.embedding_index import Embed, semantic_text
from mmkp.data.record import Entity, Post
from mmkp.data.tokenize import normalise
from mmkp.decoding.config import DecodeConfig
from mmkp.decoding.ensemble import Ensemble, EnsembleEncoded
from mmkp.decoding.generate import ScoredKeyphrase
from mmkp.decoding.heads import predict_keyphrases
from mmkp.decoding.semantic import SemanticQueries, SemanticScorer
from mmkp.devices import resolve_device
from mmkp.evaluation.prediction_files import Prediction
from mmkp.features.featurizer import ImageFeatures, ImageFeaturizer
from mmkp.features.images import ImageError
from mmkp.features.minilm_precision import MiniLMPrecision
from mmkp.features.ocr import OcrLine
from mmkp.features.posts import featurize_posts
from mmkp.features.sentence_encoder import sentence_embed, shared_encoder
from mmkp.inference.checkpoint import ZERO_SHOT, Checkpoint, load_checkpoint
from mmkp.inference.ensemble import load_members
from mmkp.inference.hub import resolve_model
from mmkp.inference.keyphrase_embeddings import read_keyphrase_embeddings
from mmkp.model.outputs import Encoded
from mmkp.model.protocol import INPUT_GRID, INPUT_SENTENCE

log = logging.getLogger("mmkp.inference")
INPUT_ID = "input"  # the id `predict` gives the single post it builds
CHUNK = 4096  # posts sorted by length together in `predict_many` (bounded memory)
IMAGE_CHUNK = 256  # the same when their images are featurized on the way
ImageInput = str | Path | bytes | Image.Image
_WORD = re.compile(r"[a-z0-9]")  # normalised text is lowercase ASCII: a word has one of these


@dataclass(frozen=True)
class RawPost:
    """A post as a user has it: raw text and an optional image (path, URL, bytes or PIL)."""

    text: str
    image: ImageInput | None = None
    id: str = INPUT_ID


@dataclass(frozen=True)
class ImagePolicy:
    """`predict_many` featurizes the posts' own images: relative paths under `base`, in CNN
    batches of `batch_size` (prepare's), each problem given to `on_error(post, {"stage",
    "reason"})`; a post whose image fails is predicted without it, as `prepare` leaves it."""

    base: Path
    on_error: Callable[[Post, dict[str, str]], None]
    batch_size: int = 16


@dataclass(frozen=True)
class LoadedPost:
    """A raw post whose text is normalised and whose image is decoded, not yet featurized."""

    post: Post
    image: Image.Image | None


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


class Predictor:
    """A trained model loaded once, ready to turn raw posts (text + optional image) into ranked
    keyphrases with the model's image diagnostics (more in the module docstring).

        predictor = Predictor.load("runs/demo/mm-mkp/model", device="auto")
        result = predictor.predict("game day at #kca!", image="photo.jpg")
        [(kp.text, kp.score) for kp in result.keyphrases], result.match_score

    `load` reads a model directory (model.safetensors, config.json, vocab.json, labels.json)
    onto `device` (cpu by default), or several as an ensemble (`members`: the checkpoints
    after the first, decoded with it as one model); `decode` is the search's settings (the
    checkpoint's own unless given); the featurizer that turns images into OCR, entities and
    grid features is built at the first image (text-only use loads no CNN). `predict` takes
    one post,
    `predict_batch` many raw posts at once, `predict_many` streams posts already in the
    dataset's form. Predicting leaves the model unchanged (eval mode): load once, predict many.
    """

    def __init__(
        self,
        checkpoint: Checkpoint,
        *,
        decode: DecodeConfig | None = None,
        featurizer: ImageFeaturizer | None = None,
        device: str | torch.device | None = None,
        members: Sequence[Checkpoint] = (),
    ):
        self.checkpoint = checkpoint  # the ensemble's first model: processor, decode, card
        self.members = (checkpoint, *members)
        self.device = resolve_device(device)
        models = [c.model.to(self.device).eval() for c in self.members]  # moved once
        self.model = models[0] if not members else Ensemble(models)
        self.decode = decode or checkpoint.config.decode
        self.processor = checkpoint.processor()
        self._embed: Embed | None = None
        self._semantic: SemanticScorer | None = None
        if featurizer is not None:
            self.processor.use_featurizer(featurizer)

    @classmethod
    def load(
        cls,
        directory: str | Path | Sequence[str | Path],
        *,
        decode: DecodeConfig | None = None,
        featurizer: ImageFeaturizer | None = None,
        device: str | torch.device | None = None,
    ) -> Predictor:
        """A predictor for a model directory (model.safetensors, config.json, ...) on `device`
        (`auto`, `cpu`, `cuda`, `cuda:N`; default cpu). The name `zero-shot` is the built-in
        zero-shot model (a directory of that name is `./zero-shot`). A list of directories
        is an ensemble (module docstring); a list of one is that model alone."""
        device = resolve_device(device)  # a missing GPU is refused before the model is read
        if not isinstance(directory, str | Path):
            if len(directory) != 1:
                first, *rest = load_members(directory)
                return cls(first, decode=decode, featurizer=featurizer, device=device, members=rest)
            (directory,) = directory
        if str(directory) == ZERO_SHOT:
            from mmkp.inference.zero_shot import ZeroShotPredictor  # it builds on this module

            return ZeroShotPredictor.build(decode=decode, featurizer=featurizer, device=device)
        return cls(load_checkpoint(directory), decode=decode, featurizer=featurizer, device=device)

    @classmethod
    def from_pretrained(
        cls,
        path_or_repo_id: str | Path,
        *,
        revision: str | None = None,
        local_files_only: bool = False,
        decode: DecodeConfig | None = None,
        featurizer: ImageFeaturizer | None = None,
        device: str | torch.device | None = None,
    ) -> Predictor:
        """`load` for a local model directory or a Hugging Face Hub repo id (`owner/name`,
        at `revision`), resolved through huggingface_hub's cache (the `hub` extra; offline
        with `HF_HUB_OFFLINE=1` or `local_files_only`): `mmkp.inference.hub`."""
        directory = resolve_model(
            path_or_repo_id, revision=revision, local_files_only=local_files_only
        )
        return cls.load(directory, decode=decode, featurizer=featurizer, device=device)

    @property
    def sentence_embed(self) -> Embed:
        """The MiniLM encoder (loaded at its first call) of the model's sentence features and
        the rerank's semantic term: one for both."""
        if self._embed is None:
            self._embed = sentence_embed()
        return self._embed

    @property
    def semantic_scorer(self) -> SemanticScorer:
        """The MiniLM scorer of `decode.semantic_weight`, built at its first use: it starts
        from the training keyphrases' embeddings the model directories hold
        (`mmkp.inference.keyphrase_embeddings`) and caches the other candidates' for the
        predictor's life."""
        if self._semantic is None:
            known: dict[str, np.ndarray] = {}
            for member in self.members:
                if member.directory is not None:
                    known |= read_keyphrase_embeddings(member.directory, member.labels)
            self._semantic = SemanticScorer(self.sentence_embed, known=known)
        return self._semantic

    @property
    def sentence_text(self) -> str | None:
        """Which text of a post ("post", "source") the model reads a MiniLM embedding of
        (`INPUT_SENTENCE`, MM-MKP's `model.sentence_features`); None: it reads none. An
        ensemble's members agree on it (`mmkp.inference.ensemble`)."""
        if INPUT_SENTENCE not in self.model.inputs:
            return None
        return self.checkpoint.config.model.sentence_input

    def use_minilm_precision(self, precision: MiniLMPrecision) -> None:
        """Embed with MiniLM in `precision` (fp32 or bf16; `mmkp.features.sentence_encoder`)
        from now on: the posts as retrieval queries, the rerank's candidates and the model's
        sentence features. The training posts' embeddings a retrieval index holds are
        float32 whatever this says (made at training, or embedded exactly when a model has
        none cached: `SentenceEncoder.exact`)."""
        shared_encoder().set_precision(precision)
        self._semantic = None  # its cached keyphrases were embedded in the other precision

    def use_retrieval_encoder(self, encoder: str) -> None:
        """Retrieve neighbours with `encoder` (tfidf, minilm or both; `model.retrieval`)
        instead of the model's own: a decode-time switch, the decoder having learnt to copy
        from the neighbours it was trained with. The training posts' embeddings are read
        from the model directory's cache, else computed once and cached there
        (retrieval-minilm.npy), so the next load finds them; a directory that cannot be
        written is only logged."""
        index = self.processor.retrieval
        if index is None:
            raise ValueError("a retrieval encoder needs a model saved with model.retrieval")
        options = dataclasses.replace(index.options, encoder=encoder)  # type: ignore[arg-type]
        with shared_encoder().exact():  # the training posts, if embedded now, as at training
            switched = index.with_options(options, embed=sentence_embed())
        directory = self.checkpoint.directory
        if index.dense is None and switched.dense is not None and directory is not None:
            try:
                switched.dense.save(directory)
            except OSError as exc:
                log.warning("%s: could not cache the MiniLM embeddings (%s)", directory, exc)
        self.processor.retrieval = switched

    @property
    def featurizer(self) -> ImageFeaturizer | None:
        """The image featurizer when built (the processor builds it at the first image)."""
        return self.processor.featurizer() if self.processor.has_featurizer else None

    @featurizer.setter
    def featurizer(self, featurizer: ImageFeaturizer) -> None:
        self.processor.use_featurizer(featurizer)

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
        """Normalise each text and featurize every image in memory, one CNN pass for all; a
        post that cannot be read is its ValueError in its place."""
        loaded: list[LoadedPost | ValueError] = []
        for raw in posts:
            try:
                loaded.append(self.load_post(raw))
            except ValueError as exc:
                loaded.append(exc)
        featurized = iter(self.featurize([p for p in loaded if isinstance(p, LoadedPost)]))
        return [p if isinstance(p, ValueError) else next(featurized) for p in loaded]

    def load_post(self, raw: RawPost) -> LoadedPost:
        """The normalised text and decoded image of one raw post; raises ValueError when the
        text has no words or the image cannot be read (the message says which)."""
        post = _raw_post(raw)
        if raw.image is None:
            return LoadedPost(post, None)
        try:
            return LoadedPost(post, self.processor.featurizer().load(raw.image))
        except ImageError as exc:
            raise ValueError(f"image {exc}") from exc

    def featurize(self, posts: Sequence[LoadedPost]) -> list[PreparedPost]:
        """OCR, entities and grids of the posts' images, one CNN pass for all, in their order
        (a part that fails on one image is left empty, as `prepare` does)."""
        with_image = [p for p in posts if p.image is not None]
        features = iter(
            self.processor.featurizer().featurize(
                [p.image for p in with_image], grid=self.uses_image
            )
            if with_image
            else []
        )
        prepared = []
        for p in posts:
            if p.image is None:
                prepared.append(PreparedPost(p.post, None))
            else:
                prepared.append(PreparedPost(p.post, _add_features(p.post, next(features))))
        return prepared

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

    def predict_many(
        self,
        posts: Iterable[Post],
        batch_size: int = 32,
        *,
        grid_lookup: GridLookup | None = None,
        images: ImagePolicy | None = None,
    ) -> Iterator[PredictionResult]:
        """Results in the order of `posts`, streamed: posts are read `CHUNK` at a time and
        batched by source length within a chunk. Grid features by post id come from
        `grid_lookup` (e.g. a FeatureStore's `get`); text only where it gives None, unless
        `images` says to featurize the posts' own images (`ImagePolicy`)."""
        if batch_size < 1:  # checked now, not at the first result
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        return self._stream(posts, batch_size, grid_lookup, images)

    def _stream(
        self,
        posts: Iterable[Post],
        batch_size: int,
        grid_lookup: GridLookup | None,
        images: ImagePolicy | None,
    ) -> Iterator[PredictionResult]:
        size = CHUNK if images is None else IMAGE_CHUNK  # grids in memory: 125 kB a post
        chunk: list[Post] = []
        for post in posts:
            chunk.append(post)
            if len(chunk) == size:
                yield from self._stream_chunk(chunk, batch_size, grid_lookup, images)
                chunk = []
        if chunk:
            yield from self._stream_chunk(chunk, batch_size, grid_lookup, images)

    def _stream_chunk(
        self,
        chunk: list[Post],
        batch_size: int,
        grid_lookup: GridLookup | None,
        images: ImagePolicy | None,
    ) -> list[PredictionResult]:
        if images is not None:
            grid_lookup = self._featurize_posts(chunk, grid_lookup, images)
        return self._predict_chunk(chunk, batch_size, grid_lookup, self.decode)

    def _featurize_posts(
        self, posts: list[Post], grid_lookup: GridLookup | None, images: ImagePolicy
    ) -> GridLookup:
        """Featurize the images of the posts `grid_lookup` has no grid for, as `prepare`
        does (their OCR and entities filled in place); the lookup of all grids."""
        stored = grid_lookup or (lambda post_id: None)
        todo = [p for p in posts if p.image is not None and stored(p.id) is None]
        made: dict[str, np.ndarray] = {}
        for start in range(0, len(todo), images.batch_size):
            batch = todo[start : start + images.batch_size]
            for item in featurize_posts(self.processor.featurizer(), batch, images.base):
                if item.grid is not None:
                    made[item.post.id] = item.grid
                for error in item.errors:
                    images.on_error(item.post, error)
        return lambda post_id: made.get(post_id, stored(post_id))

    @torch.no_grad()
    def _predict_chunk(
        self,
        posts: Sequence[Post],
        batch_size: int,
        grid_lookup: GridLookup | None,
        settings: DecodeConfig,
    ) -> list[PredictionResult]:
        """The posts' results in their order, decoded in batches of similar source length."""
        lookup = grid_lookup if self.uses_image else None
        which = self.sentence_text
        sentences = (  # (P, D): the chunk's posts embedded once, for the model's H_f
            None if which is None else self.sentence_embed([semantic_text(p, which) for p in posts])
        )
        batches = self.processor.batches(posts, batch_size, grid_lookup=lookup, sentences=sentences)
        results: list[PredictionResult | None] = [None] * len(posts)
        for rows, cpu_batch in batches:
            batch = cpu_batch.to(self.device)  # moved once; decoding follows its tensors
            encoded = self.model.encode(batch)
            semantic = None
            if settings.semantic_weight > 0:
                semantic = self._semantic_queries(posts, rows, settings.semantic_text, sentences)
            ranked = predict_keyphrases(
                self.model,
                batch,
                self.processor.vocab,
                self.processor.labels,
                settings,
                encoded=encoded,
                semantic=semantic,
            )
            for row, (i, keyphrases) in enumerate(zip(rows, ranked, strict=True)):
                results[i] = _result(posts[i], keyphrases, encoded, row, cpu_batch.has_image)
        return results  # type: ignore[return-value]  # every row is filled once

    def _semantic_queries(
        self, posts: Sequence[Post], rows: list[int], which: str, sentences: np.ndarray | None
    ) -> SemanticQueries:
        """The batch's posts for the rerank's semantic term: the model's sentence features
        when they embed the same text (not embedded twice), else embedded in one call."""
        if sentences is not None and which == self.sentence_text:
            return SemanticQueries(self.semantic_scorer, sentences[rows])
        return self.semantic_scorer.queries([semantic_text(posts[i], which) for i in rows])


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
    encoded: Encoded | EnsembleEncoded,
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

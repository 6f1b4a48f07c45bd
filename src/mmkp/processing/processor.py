"""The processor: one object that feeds a model at prediction time exactly as in training.

As a Hugging Face processor is saved beside the weights, a model directory holds what turned
posts into the model's inputs:

    config.json "text"   TextOptions: which segments enter X_T and how long it may be
    vocab.json           the vocabulary (ids <-> words, OOV words by extended id)
    labels.json          the training keyphrases (the classifier's label set)
    retrieval.json       the training posts' index, for models with `model.retrieval`
    processor.json       the featurizer the training images went through: backbone, its
                         weights' identity (sha256), input size and grid side, OCR engine and
                         thresholds, entity provider and its settings, image limits

    processor = Processor.load(model_dir)       # or Checkpoint.processor
    processor.featurizer()                      # ImageFeaturizer as recorded (built once)
    batches = processor.batches(posts, 32, grid_lookup=store.get)  # (rows, Batch) by length
    processor.vocab.decode(ids, oov_words)      # ids back to words (OOV by extended id)

`prepare` records its featurizer settings in the feature store (`meta.json` "featurizer");
training copies them into processor.json. Directories written before processor.json read as
what they were built with: the default featurizer on the backbone config.json names (or the
default backbone when the model's grid width matches it).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mmkp.config_loader import from_dict, to_dict
from mmkp.data.batch import Batch, GridLookup
from mmkp.data.batching import length_sorted_batches
from mmkp.data.neighbours import RetrievalIndex
from mmkp.data.processor import TextOptions, TextProcessor
from mmkp.data.record import Post
from mmkp.data.vocab import LabelSet, Vocab
from mmkp.features import backbones
from mmkp.features.featurizer import FeaturizerConfig, ImageFeaturizer
from mmkp.features.store import FeatureStore
from mmkp.io import read_text, write_json_atomic

PROCESSOR_FILE = "processor.json"
PROCESSOR_FORMAT = "mmkp-processor"


@dataclass(frozen=True)
class ProcessorConfig:
    """How the training images were featurized (the text options live in config.json)."""

    # None: the model reads grids of a width no known backbone gives and nothing recorded
    # which one (an old directory); images then need a featurizer passed in
    featurizer: FeaturizerConfig | None = field(default_factory=FeaturizerConfig)
    # sha256 of the backbone's weights file when recorded: a model is never served with
    # other weights than its grids came from (None: not recorded, e.g. an older model)
    weights_sha256: str | None = None
    # pixels the CNN saw (square) and regions per side of its last feature map: the
    # backbone's registered sizes (the default backbone's for an older model)
    input_size: int = backbones.spec(backbones.DEFAULT_BACKBONE).input_size
    grid_side: int = backbones.spec(backbones.DEFAULT_BACKBONE).grid_side

    def to_dict(self) -> dict[str, Any]:
        return {"format": PROCESSOR_FORMAT, "version": 1, **to_dict(self)}

    @classmethod
    def of(cls, featurizer: FeaturizerConfig, weights_sha256: str | None = None) -> ProcessorConfig:
        """The processor of grids made by `featurizer`, with its backbone's registered sizes
        (a backbone this package does not know, e.g. hand-made test grids, keeps the defaults)."""
        if featurizer.backbone not in backbones.SPECS:
            return cls(featurizer, weights_sha256)
        spec = backbones.spec(featurizer.backbone)
        return cls(featurizer, weights_sha256, spec.input_size, spec.grid_side)

    @classmethod
    def of_store(cls, store: FeatureStore) -> ProcessorConfig:
        """What `prepare` recorded in a feature store; an older store (no record) read as
        the default featurizer on its backbone."""
        if store.featurizer is None:
            return cls.of(FeaturizerConfig(backbone=store.backbone))
        featurizer = from_dict(FeaturizerConfig, store.featurizer, source=str(store.folder))
        return cls.of(featurizer, store.weights_sha256)

    def check_weights(self) -> None:
        """ValueError when the weights found here are not the ones the grids came from."""
        if self.weights_sha256 is None or self.featurizer is None:
            return
        found = _sha256(self.featurizer)
        if found != self.weights_sha256:
            raise ValueError(
                f"the {self.featurizer.backbone} weights here (sha256 {found[:12]}...) are not "
                f"those the model's image features came from ({self.weights_sha256[:12]}...)"
            )


def _sha256(config: FeaturizerConfig) -> str:
    return backbones.weights_sha256(config.backbone, config.weights)


def read_processor_config(directory: Path) -> ProcessorConfig | None:
    """processor.json of a model directory or feature store; None when it has none."""
    path = directory / PROCESSOR_FILE
    if not path.is_file():
        return None
    try:
        raw = json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(raw, dict) or raw.get("format") != PROCESSOR_FORMAT:
        raise ValueError(f"{path}: not an mmkp processor file (format {PROCESSOR_FORMAT!r})")
    raw = {key: value for key, value in raw.items() if key not in ("format", "version")}
    return from_dict(ProcessorConfig, raw, source=str(path))


def write_processor_config(directory: Path, config: ProcessorConfig) -> None:
    write_json_atomic(directory / PROCESSOR_FILE, config.to_dict())


class Processor:
    """Posts -> batches for one model: text options, vocabulary and labels, retrieval index,
    and the featurizer its images need (built at the first image: text-only use loads no CNN)."""

    def __init__(
        self,
        vocab: Vocab,
        labels: LabelSet,
        text: TextOptions,
        config: ProcessorConfig,
        *,
        retrieval: RetrievalIndex | None = None,
        grid_width: int | None = None,
    ):
        self.vocab = vocab
        self.grid_width = grid_width  # the model's grid channels (named in errors)
        self.labels = labels
        self.config = config
        self.retrieval = retrieval
        self.text = TextProcessor(vocab, labels, text)
        self._featurizer: ImageFeaturizer | None = None

    def featurizer(self) -> ImageFeaturizer:
        """The recorded featurizer (weights checked against the recorded identity)."""
        if self._featurizer is None:
            if self.config.featurizer is None:
                raise ValueError(
                    f"the model reads {self.grid_width}-channel grids but its training feature "
                    "store is neither named in the checkpoint nor here to tell the backbone; "
                    "pass Predictor.load(..., featurizer=ImageFeaturizer(FeaturizerConfig("
                    "backbone=..., weights=...)))"
                )
            self.config.check_weights()
            self._featurizer = ImageFeaturizer(self.config.featurizer)
        return self._featurizer

    def use_featurizer(self, featurizer: ImageFeaturizer) -> None:
        """Feed images through `featurizer` instead (e.g. one shared by two models)."""
        self._featurizer = featurizer

    @property
    def has_featurizer(self) -> bool:
        return self._featurizer is not None

    def batches(
        self,
        posts: Sequence[Post],
        batch_size: int,
        *,
        grid_lookup: GridLookup | None,
        sentences: np.ndarray | None = None,
    ) -> Iterator[tuple[list[int], Batch]]:
        """One row per post, in batches of similar source length, each with its posts'
        positions; grids by post id from `grid_lookup`, neighbour votes from the index,
        `sentences` (len(posts), D) the posts' sentence embeddings (for a model that reads
        them: `Batch.sentence`)."""
        examples = self.text.examples(posts, one2one=False)
        index = self.retrieval
        return length_sorted_batches(
            examples,
            batch_size,
            grid_lookup=grid_lookup,
            neighbours=None if index is None else index.lookup(posts),
            sentences=sentences,
        )

"""Tiny M3H-ATT models and batches built through the real data path (posts -> TextProcessor
with attribute words -> collate), both encoders."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mmkp.data.batch import Batch
from mmkp.data.batching import collate
from mmkp.data.processor import TextOptions, TextProcessor
from mmkp.data.record import Entity, Post
from mmkp.data.vocab import LabelSet, Vocab
from mmkp.model.m3h_att import M3HAtt, M3HAttConfig
from mmkp.model.registry import build_model

from ..conftest import TINY_SIZES

IMAGE_DIM = 12
POSTS = [
    Post(
        "1",
        "so excited for the kca awards tonight",
        image="a.jpg",
        ocr="kids choice",
        entities=[Entity("stage"), Entity("crowd")],
        keyphrases=["kca", "kids choice awards"],
        extra={"attributes": ["people", "stage", "light"]},
    ),
    Post(
        "2",
        "rain again in london today",
        entities=[Entity("umbrella")],
        keyphrases=["london weather"],
        extra={"attributes": ["umbrella", "street"]},
    ),
    Post(
        "3",
        "new phone who dis zorblax",
        image="c.jpg",
        ocr="zorblax",
        keyphrases=["zorblax"],
    ),
]
OPTIONS = TextOptions(use_entities=False, attributes="given")


def grid(post_id: str) -> np.ndarray | None:
    """Grids for the posts with an image (fixed random features)."""
    if post_id == "2":
        return None
    return np.random.default_rng(int(post_id)).normal(size=(49, IMAGE_DIM)).astype(np.float32)


def vocab_and_labels(options: TextOptions = OPTIONS) -> tuple[Vocab, LabelSet]:
    vocab = Vocab.build(
        POSTS,
        use_ocr=options.use_ocr,
        use_entities=options.use_entities,
        attributes=options.attributes,
    )
    return vocab, LabelSet.build(POSTS)


def make_batch(options: TextOptions = OPTIONS, *, one2one: bool = True) -> Batch:
    vocab, labels = vocab_and_labels(options)
    examples = TextProcessor(vocab, labels, options).examples(POSTS, one2one=one2one)
    return collate(examples, vocab, grid_lookup=grid)


def tiny_config(**overrides: object) -> M3HAttConfig:
    base = {**TINY_SIZES, "image_dim": IMAGE_DIM, "classifier_top_k": 2}
    return M3HAttConfig(**{**base, **overrides})  # type: ignore[arg-type]


def tiny_model(seed: int = 0, options: TextOptions = OPTIONS, **overrides: object) -> M3HAtt:
    torch.manual_seed(seed)
    vocab, labels = vocab_and_labels(options)
    model = build_model(tiny_config(**overrides), vocab, labels)
    assert isinstance(model, M3HAtt)
    return model


@pytest.fixture(params=["gru", "transformer"])
def encoder(request: pytest.FixtureRequest) -> str:
    return request.param

"""The model on batches from the real data path (make_examples + collate), and it learns."""

from __future__ import annotations

import numpy as np
import torch

from mmkp.data.batching import collate
from mmkp.data.processor import TextProcessor
from mmkp.data.record import Entity, Post
from mmkp.data.vocab import LabelSet, Vocab
from mmkp.model.registry import build_model

from .conftest import tiny_config

POSTS = [
    Post(
        "1",
        "so excited for the kca awards tonight",
        image="a.jpg",
        ocr="kids choice",
        entities=[Entity("stage"), Entity("crowd")],
        keyphrases=["kca", "kids choice awards"],
        extra={"match_label": 1},
    ),
    Post(
        "2",
        "rain again in london today",
        ocr="",
        entities=[Entity("umbrella")],
        keyphrases=["london weather"],
    ),
    Post(
        "3",
        "new phone who dis zorblax",
        image="c.jpg",
        ocr="zorblax",
        entities=[Entity("phone")],
        keyphrases=["zorblax"],
        extra={"match_label": 0},
    ),
]


def _grid(post_id: str) -> np.ndarray | None:
    seed = int(post_id)
    return None if post_id == "2" else np.random.default_rng(seed).normal(size=(49, 12))


def _data() -> tuple[Vocab, LabelSet, object]:
    vocab = Vocab.build(POSTS[:2], max_size=20)  # "zorblax" stays out of the vocabulary
    labels = LabelSet.build(POSTS[:2])
    # The posts carry their relevance as `match_label` (as a D_itm set or a named field would).
    processor = TextProcessor(vocab, labels, match_label_keys=("match_label",))
    examples = processor.examples(POSTS)
    return vocab, labels, collate(examples, vocab, grid_lookup=_grid)


def test_collated_batch_runs_and_copies_oov_words():
    vocab, labels, batch = _data()
    assert "zorblax" not in vocab and batch.max_oov >= 1
    torch.manual_seed(0)
    model = build_model(tiny_config(), vocab, labels).eval()
    encoded = model.encode(batch)
    assert encoded.match_score[batch.has_image].gt(0).all()
    log_probs = model.teacher_forced(batch, encoded)
    assert log_probs.size(-1) == len(vocab) + batch.max_oov
    torch.testing.assert_close(log_probs.exp().sum(-1), torch.ones(log_probs.shape[:2]))
    row = batch.size - 1  # post 3: target "zorblax" is a source OOV word, reachable by copy
    oov_id = batch.trg_out[row, 0].item()
    assert oov_id >= len(vocab) and log_probs[row, 0, oov_id].exp() > 1e-3


def test_a_few_steps_lower_every_loss():
    vocab, labels, batch = _data()
    torch.manual_seed(0)
    model = build_model(tiny_config(), vocab, labels)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    terms = {"itm", "irtm", "cla", "gen"}
    first = model(batch, terms)
    for _ in range(30):
        optimizer.zero_grad()
        model(batch, terms).total.backward()
        optimizer.step()
    last = model(batch, terms)
    for name in ("itm", "cla", "gen"):
        assert last[name] < 0.5 * first[name], name

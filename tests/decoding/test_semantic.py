"""The semantic term of the rerank (decode.semantic_weight): exact mixed scores on a
hand-built row, exactly the two-term rerank when off, keyphrases embedded once each."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pytest
import torch

from mmkp.data.record import Entity, Post
from mmkp.data.vocab import LabelSet
from mmkp.decoding.config import DecodeConfig
from mmkp.decoding.generate import ScoredKeyphrase
from mmkp.decoding.rerank import rerank
from mmkp.decoding.semantic import SemanticScorer, semantic_text, softmax

# Fixed unit vectors: the post is (1, 0); "kca" (0.6, 0.8) has cosine 0.6, "nba" (0, 1)
# cosine 0, "tv" (-1, 0) cosine -1.
VECTORS = {"post": (1.0, 0.0), "kca": (0.6, 0.8), "nba": (0.0, 1.0), "tv": (-1.0, 0.0)}


class Table:
    """An encoder reading VECTORS; records each call's texts."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        return np.array([VECTORS[t] for t in texts], dtype=np.float32).reshape(len(texts), 2)


def _row() -> tuple[LabelSet, list[ScoredKeyphrase], torch.Tensor, torch.Tensor]:
    labels = LabelSet(["kca", "nba", "oscars"])
    model = [ScoredKeyphrase("kca", math.log(0.75)), ScoredKeyphrase("tv", math.log(0.25))]
    return labels, model, torch.tensor([[1, 0, -100]]), torch.tensor([[0.8, 0.2, 0.0]])


def test_the_semantic_distribution_is_mixed_in_by_its_weight():
    labels, model, ids, votes = _row()
    semantic = SemanticScorer(Table()).queries(["post"])
    rows = rerank(
        [model], ids, votes, labels, 0.5, 3,
        semantic=semantic, semantic_weight=0.2, temperature=0.5,
    )  # fmt: skip
    # candidates in order kca, tv (model), nba (votes); cosines 0.6, -1, 0 at T = 0.5
    e = [math.exp(1.2), math.exp(-2.0), math.exp(0.0)]
    p = [x / sum(e) for x in e]
    expected = {
        "kca": 0.3 * 0.75 + 0.5 * 0.2 + 0.2 * p[0],
        "tv": 0.3 * 0.25 + 0.2 * p[1],
        "nba": 0.5 * 0.8 + 0.2 * p[2],
    }
    assert [kp.text for kp in rows[0]] == sorted(expected, key=lambda t: -expected[t])
    assert {kp.text: math.exp(kp.score) for kp in rows[0]} == pytest.approx(expected)
    assert softmax([0.6, -1.0, 0.0], 0.5) == pytest.approx(p)


def test_weight_zero_is_exactly_the_neighbour_rerank():
    labels, model, ids, votes = _row()
    table = Table()
    before = rerank([model], ids, votes, labels, 0.5, 3)
    after = rerank(
        [model], ids, votes, labels, 0.5, 3,
        semantic=SemanticScorer(table).queries(["post"]), semantic_weight=0.0,
    )  # fmt: skip
    assert after == before  # bit-identical scores
    assert table.calls == [["post"]]  # no keyphrase was embedded


def test_semantic_alone_without_neighbours_keeps_the_model_candidates():
    labels, model, ids, votes = _row()
    semantic = SemanticScorer(Table()).queries(["post"])
    rows = rerank(
        [model], ids, votes, labels, 0.0, 3,
        semantic=semantic, semantic_weight=0.5, temperature=1.0,
    )  # fmt: skip
    assert [kp.text for kp in rows[0]] == ["kca", "tv"]  # the neighbours' labels stay out
    p = softmax([0.6, -1.0], 1.0)
    assert [math.exp(kp.score) for kp in rows[0]] == pytest.approx(
        [0.5 * 0.75 + 0.5 * p[0], 0.5 * 0.25 + 0.5 * p[1]]
    )


def test_keyphrases_are_embedded_once_per_scorer_in_one_call_per_batch():
    table = Table()
    scorer = SemanticScorer(table, cache_size=2)
    posts = scorer.queries(["post", "post"])
    first = posts.cosines([["kca", "tv"], ["tv", "nba"]])
    assert first[0] == pytest.approx({"kca": 0.6, "tv": -1.0})
    assert first[1] == pytest.approx({"tv": -1.0, "nba": 0.0})
    assert table.calls == [["post", "post"], ["kca", "tv", "nba"]]
    one = scorer.queries(["post"])
    one.cosines([["tv", "nba"]])  # both cached (kca, used least recently, was evicted)
    assert table.calls[-1] == []
    one.cosines([["kca"]])
    assert table.calls[-1] == ["kca"]


def test_known_keyphrases_are_never_embedded_nor_evicted():
    table = Table()
    known = {"kca": np.array(VECTORS["kca"], dtype=np.float32)}
    scorer = SemanticScorer(table, known=known, cache_size=1)
    posts = scorer.queries(["post"])
    assert posts.cosines([["kca", "tv", "nba"]])[0] == pytest.approx(
        {"kca": 0.6, "tv": -1.0, "nba": 0.0}
    )
    assert table.calls[-1] == ["tv", "nba"]  # "kca" came embedded
    posts.cosines([["nba", "kca"]])  # "tv" was evicted, "kca" never is
    assert table.calls[-1] == []
    posts.cosines([["tv", "kca"]])
    assert table.calls[-1] == ["tv"]


def test_semantic_text_and_config_bounds():
    post = Post("p", "so excited", ocr="big sign", entities=[Entity("stage")])
    assert semantic_text(post, "post") == "so excited"
    assert semantic_text(post, "source") == "so excited . big sign . stage"
    with pytest.raises(ValueError, match=r"semantic_weight must be in \[0, 1 - neighbour_weight\]"):
        DecodeConfig(neighbour_weight=0.6, semantic_weight=0.5)
    with pytest.raises(ValueError, match="semantic_temperature must be > 0"):
        DecodeConfig(semantic_temperature=0.0)

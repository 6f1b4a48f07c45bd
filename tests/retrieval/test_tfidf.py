"""TF-IDF weights and cosine similarities against values worked out by hand."""

from __future__ import annotations

import math

import pytest

from mmkp.retrieval.tfidf import TfidfIndex, TfidfOptions, content_tokens


def test_content_tokens_drop_structure_and_punctuation():
    text = "so excited ! <user> at kca <seg> big sign <seg> tv screen ; couple"
    assert content_tokens(text) == [
        "so", "excited", "<user>", "at", "kca", "big", "sign", "tv", "screen", "couple"
    ]  # fmt: skip


def test_similarities_match_hand_computed_tfidf():
    docs = [["a", "b"], ["a", "c", "c"], ["d"]]
    index = TfidfIndex(docs)
    idf_a, idf_b, idf_c = math.log(4 / 3) + 1, math.log(2) + 1, math.log(2) + 1
    tf_c = 1 + math.log(2)  # sublinear tf of a term seen twice
    # query ["b", "a"] has the same weights as document 0, so their cosine is 1
    sims = index.similarities(["b", "a"])
    expected_1 = idf_a * idf_a / (math.hypot(idf_a, idf_b) * math.hypot(idf_a, tf_c * idf_c))
    assert sims.tolist() == pytest.approx([1.0, expected_1, 0.0])
    assert index.similarities(["zebra"]).tolist() == [0.0, 0.0, 0.0]


def test_raw_tf_min_df_and_bigrams():
    docs = [["a", "b"], ["a", "c", "c"], ["d"]]
    raw = TfidfIndex(docs, TfidfOptions(sublinear_tf=False))
    idf_a, idf_c = math.log(4 / 3) + 1, math.log(2) + 1
    assert raw.similarities(["c"])[1] == pytest.approx(2 * idf_c / math.hypot(idf_a, 2 * idf_c))
    assert set(TfidfIndex(docs, TfidfOptions(min_df=2)).vocab) == {"a"}
    bigrams = TfidfIndex([["new", "york"], ["york", "new"]], TfidfOptions(bigrams=True))
    sims = bigrams.similarities(["new", "york"])
    assert sims[0] == pytest.approx(1.0) and sims[1] < 1.0

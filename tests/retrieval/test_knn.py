"""The frequency and kNN baselines on tiny hand-made posts, with exact rankings and scores."""

from __future__ import annotations

import math

import pytest

from mmkp.data.record import Entity, Post
from mmkp.retrieval.frequency import FrequencyBaseline
from mmkp.retrieval.knn import KnnOptions, TfidfKnnBaseline
from mmkp.retrieval.registry import build_baseline

TRAIN = [
    Post("t1", "apple banana", keyphrases=["fruit", "snack"]),
    Post("t2", "apple cherry", keyphrases=["Fruit"]),
    Post("t3", "dog cat", keyphrases=["pets"]),
    Post(
        "t4", "red car", ocr="big sale", entities=[Entity("sports car", 0.9)], keyphrases=["cars"]
    ),
]


def test_frequency_ranks_by_post_count_then_first_appearance():
    train = [
        *TRAIN,
        Post("t5", "x", keyphrases=["pets", "World  Cup"]),
        Post("t6", "y", keyphrases=["world cup"]),
    ]
    preds = FrequencyBaseline().fit(train).predict([Post("q", "anything")], top_k=3)
    assert preds[0].id == "q"
    assert preds[0].keyphrases == ["fruit", "pets", "world cup"]
    assert preds[0].scores == [2 / 6, 2 / 6, 2 / 6]


def test_knn_sums_neighbour_similarities_and_fills_with_frequent_keyphrases():
    model = TfidfKnnBaseline(KnnOptions(k=3)).fit(TRAIN)
    [pred] = model.predict([Post("q", "apple banana")], top_k=4)
    # t1 is identical (cosine 1); t2 shares only "apple"; t3, t4 share nothing and do not vote
    idf_apple, idf_banana = math.log(5 / 3) + 1, math.log(5 / 2) + 1  # idf(cherry) = idf(banana)
    sim_t2 = idf_apple**2 / (idf_apple**2 + idf_banana**2)
    assert pred.keyphrases == ["fruit", "snack", "pets", "cars"]
    assert pred.scores == pytest.approx([1 + sim_t2, 1.0, 0.0, 0.0])


def test_knn_k_limits_the_voters_and_ties_keep_neighbour_order():
    [pred] = (
        TfidfKnnBaseline(KnnOptions(k=1, fill=False))
        .fit(TRAIN)
        .predict([Post("q", "banana apple")])
    )
    assert pred.keyphrases == ["fruit", "snack"]
    assert pred.scores == pytest.approx([1.0, 1.0])


def test_knn_uses_ocr_and_entities():
    [pred] = (
        TfidfKnnBaseline(KnnOptions(fill=False)).fit(TRAIN).predict([Post("q", "look", ocr="sale")])
    )
    assert pred.keyphrases == ["cars"]
    [pred] = (
        TfidfKnnBaseline(KnnOptions(fill=False))
        .fit(TRAIN)
        .predict([Post("q", "look", entities=[Entity("sports car")])])
    )
    assert pred.keyphrases == ["cars"]


def test_knn_without_any_overlap_returns_the_frequency_list():
    [pred] = TfidfKnnBaseline().fit(TRAIN).predict([Post("q", "zebra")], top_k=3)
    assert pred.keyphrases == ["fruit", "snack", "pets"]
    assert pred.scores == [0.0, 0.0, 0.0]
    [empty] = TfidfKnnBaseline(KnnOptions(fill=False)).fit(TRAIN).predict([Post("q", "zebra")])
    assert empty.keyphrases == []


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="k must be at least 1, got 0"):
        KnnOptions(k=0)
    with pytest.raises(ValueError, match="call fit"):
        TfidfKnnBaseline().predict([Post("q", "x")])
    with pytest.raises(ValueError, match="no training posts"):
        TfidfKnnBaseline().fit([])
    with pytest.raises(
        ValueError, match="unknown baseline 'bm25'; choose from frequency, knn, knn-minilm"
    ):
        build_baseline("bm25")


def test_registry_defaults():
    assert build_baseline("knn").options.k == 40
    assert build_baseline("knn", k=7).options.k == 7
    assert isinstance(build_baseline("frequency"), FrequencyBaseline)

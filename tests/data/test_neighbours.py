"""The retrieval index: TF-IDF values worked out by hand, neighbours, votes, save/load."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mmkp.data.neighbours import (
    Neighbours,
    RetrievalIndex,
    RetrievalOptions,
    TfidfIndex,
    TfidfOptions,
    content_tokens,
    vote,
)
from mmkp.data.record import Post
from mmkp.data.vocab import LabelSet


def test_content_tokens_drop_structure_and_punctuation():
    text = "so excited ! <user> at kca <seg> big sign <seg> tv screen ; couple"
    assert content_tokens(text) == [
        "so", "excited", "<user>", "at", "kca", "big", "sign", "tv", "screen", "couple"
    ]  # fmt: skip


def test_similarities_match_hand_computed_tfidf():
    index = TfidfIndex(["a b", "a c c", "d"])
    idf_a, idf_b, idf_c = math.log(4 / 3) + 1, math.log(2) + 1, math.log(2) + 1
    tf_c = 1 + math.log(2)  # sublinear tf of a term seen twice
    # query "b a" has the same weights as document 0, so their cosine is 1
    sims = index.similarities(["b a", "zebra"])
    expected_1 = idf_a * idf_a / (math.hypot(idf_a, idf_b) * math.hypot(idf_a, tf_c * idf_c))
    assert sims[0].tolist() == pytest.approx([1.0, expected_1, 0.0])
    assert sims[1].tolist() == [0.0, 0.0, 0.0]


def test_raw_tf_min_df_and_bigrams():
    docs = ["a b", "a c c", "d"]
    raw = TfidfIndex(docs, TfidfOptions(sublinear_tf=False))
    idf_a, idf_c = math.log(4 / 3) + 1, math.log(2) + 1
    assert raw.similarities(["c"])[0, 1] == pytest.approx(2 * idf_c / math.hypot(idf_a, 2 * idf_c))
    only_a = TfidfIndex(docs, TfidfOptions(min_df=2)).similarities(["a", "b c d"])
    assert only_a[0].tolist() == pytest.approx([1.0, 1.0, 0.0]) and not only_a[1].any()
    bigrams = TfidfIndex(["new york", "york new"], TfidfOptions(bigrams=True))
    sims = bigrams.similarities(["new york"])[0]
    assert sims[0] == pytest.approx(1.0) and sims[1] < 1.0


def test_no_content_word_anywhere_means_no_neighbour():
    index = TfidfIndex([";", "!"])
    found = index.neighbours(["a"], 2)
    assert found.indices.tolist() == [[-1, -1]] and found.similarities.tolist() == [[0.0, 0.0]]


def test_neighbours_rank_exclude_and_break_ties_by_row():
    index = TfidfIndex(["x y", "x y", "x z", "q"])
    found = index.neighbours(["x y", "x y"], 3, exclude=[0, -1])
    assert found.indices[0].tolist() == [1, 2, -1]  # itself excluded, "q" not similar
    assert found.indices[1].tolist() == [0, 1, 2]  # the tie goes to the earlier row
    assert found.similarities[1, 0] == pytest.approx(1.0)


def test_vote_sums_similarities_and_normalises():
    found = Neighbours(np.array([[0, 1, -1], [-1, -1, -1]]), np.array([[0.6, 0.2, 0], [0, 0, 0]]))
    votes = vote(found, [[3, 1], [1]], top=2)
    assert votes[0].labels == (1, 3)
    assert votes[0].weights == pytest.approx((0.8 / 1.4, 0.6 / 1.4))
    assert votes[1].labels == () and votes[1].weights == ()


def _posts() -> list[Post]:
    return [
        Post("a", "football match tonight", keyphrases=["football", "match"]),
        Post("b", "football final tonight", keyphrases=["football"]),
        Post("c", "cat on a sofa", keyphrases=["cats"]),
    ]


def test_training_votes_never_come_from_the_post_itself():
    posts = _posts()
    labels = LabelSet.build(posts)
    index = RetrievalIndex.build(posts, labels, RetrievalOptions(k=5, labels=3))
    own = index.votes(posts, exclude_self=True)
    assert [labels.keyphrase(i) for i in own[0].labels] == ["football"]  # from post b only
    assert own[2].labels == ()  # nothing else mentions cats
    query = index.votes([Post("q", "a cat and a sofa")])[0]
    assert [labels.keyphrase(i) for i in query.labels] == ["cats"]
    assert query.weights == pytest.approx((1.0,))
    with pytest.raises(ValueError, match="exclude_self needs the indexed posts"):
        index.votes(posts[:2], exclude_self=True)


def test_save_load_keeps_the_votes(tmp_path):
    posts = _posts()
    labels = LabelSet.build(posts)
    options = RetrievalOptions(k=2, labels=2, bigrams=True)
    index = RetrievalIndex.build(posts, labels, options)
    index.save(tmp_path)
    loaded = RetrievalIndex.load(tmp_path, options, len(labels))
    queries = [Post("q", "football tonight"), Post("r", "sofa")]
    assert loaded.votes(queries) == index.votes(queries)


def test_load_names_the_problem(tmp_path):
    (tmp_path / "retrieval.json").write_text(
        '{"format": "mmkp-retrieval-index", "texts": ["a"], "labels": [[7]]}'
    )
    with pytest.raises(ValueError, match="label indices < 3"):
        RetrievalIndex.load(tmp_path, RetrievalOptions(), 3)
    with pytest.raises(ValueError, match="cannot read the retrieval index"):
        RetrievalIndex.load(tmp_path / "missing", RetrievalOptions(), 3)

"""Retrieval by sentence embeddings (model.retrieval.encoder): the text embedded, the merge
of TF-IDF and MiniLM votes by hand, the cached embeddings' round trip. The encoder is a
small bag-of-words one (unit rows over a fixed word list), so every cosine is hand-checked."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from mmkp.data.embedding_index import EMBEDDINGS_FILE, EmbeddingIndex, sentence_text
from mmkp.data.layout import source_text
from mmkp.data.neighbours import (
    RetrievalIndex,
    RetrievalOptions,
    merge_scores,
    top_votes,
)
from mmkp.data.record import Entity, Post
from mmkp.data.vocab import LabelSet

WORDS = ["football", "match", "final", "cat", "sofa", "kitten", "goal"]
# "kitten" and "cat" share an axis, like synonyms in a sentence encoder: the dense index finds
# the cat post for "kitten", which shares no word with it.
AXIS = {word: i for i, word in enumerate(WORDS)} | {"kitten": WORDS.index("cat")}


class BagOfWords:
    """Unit-length word-count vectors over WORDS; counts its calls and texts."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        self.texts += texts
        rows = np.zeros((len(texts), len(WORDS)), dtype=np.float32)
        for row, text in zip(rows, texts, strict=True):
            for word in text.split():
                if word in AXIS:
                    row[AXIS[word]] += 1
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        return rows / np.where(norms > 0, norms, 1)


def _posts() -> list[Post]:
    return [
        Post("a", "football match tonight", keyphrases=["football", "match"]),
        Post("b", "football final tonight", keyphrases=["football"]),
        Post("c", "cat on a sofa", keyphrases=["cats"]),
    ]


def test_sentence_text_is_what_the_minilm_baseline_embeds():
    post = Post("p", "hello there", ocr="big sale", entities=[Entity("shop"), Entity("sign")])
    assert sentence_text(source_text(post)) == "hello there . big sale . shop, sign"
    assert sentence_text(source_text(Post("p", "only text"))) == "only text"


def test_merge_averages_the_normalised_votes_and_a_silent_side_drops_out():
    tfidf, minilm = {1: 0.3, 2: 0.1}, {2: 0.6, 3: 0.2}  # each normalises to 0.75, 0.25
    merged = merge_scores(tfidf, minilm)
    assert list(merged) == [1, 2, 3]  # TF-IDF's labels first, then MiniLM's new ones
    assert merged == pytest.approx({1: 0.375, 2: 0.125 + 0.375, 3: 0.125})
    assert merge_scores({}, minilm) == pytest.approx({2: 0.75, 3: 0.25})
    votes = top_votes(merged, 2)
    assert votes.labels == (2, 1) and votes.weights == pytest.approx((0.5 / 0.875, 0.375 / 0.875))


def test_minilm_and_both_encoders_vote_from_their_neighbours():
    posts, embed = _posts(), BagOfWords()
    labels = LabelSet.build(posts)
    query = [Post("q", "kitten football")]
    name = labels.keyphrase
    tfidf = RetrievalIndex.build(posts, labels, RetrievalOptions(k=3, labels=3))
    # TF-IDF: only the football posts share a word with the query
    assert {name(i) for i in tfidf.votes(query)[0].labels} == {"football", "match"}
    minilm = RetrievalIndex.build(
        posts, labels, RetrievalOptions(k=3, labels=3, encoder="minilm"), embed=embed
    )
    # cosines: a 1/2, b 1/2, c 1/sqrt(4) = 1/2 (query [cat, football]/sqrt2, c [cat, sofa]/sqrt2)
    found = minilm.votes(query)[0]
    assert [name(i) for i in found.labels] == ["football", "match", "cats"]
    assert found.weights == pytest.approx((0.5, 0.25, 0.25))
    both = RetrievalIndex.build(
        posts, labels, RetrievalOptions(k=3, labels=3, encoder="both"), embed=embed
    )
    sparse = tfidf.votes(query)[0]
    expected = {name(i): w / 2 for i, w in zip(sparse.labels, sparse.weights, strict=True)}
    for label, w in zip(found.labels, found.weights, strict=True):
        expected[name(label)] = expected.get(name(label), 0.0) + w / 2
    merged = both.votes(query)[0]
    assert {name(i): w for i, w in zip(merged.labels, merged.weights, strict=True)} == (
        pytest.approx(expected)
    )
    own = minilm.votes(posts, exclude_self=True)
    assert [name(i) for i in own[2].labels] == []  # the cat post shares no axis with the rest


def test_encoder_tfidf_is_the_index_of_before():
    posts = _posts()
    labels = LabelSet.build(posts)
    queries = [Post("q", "football tonight"), Post("r", "sofa")]
    plain = RetrievalIndex.build(posts, labels, RetrievalOptions(k=2, labels=2))
    # with a sentence encoder at hand, tfidf still neither embeds nor changes a vote
    embed = BagOfWords()
    given = RetrievalIndex.build(posts, labels, RetrievalOptions(k=2, labels=2), embed=embed)
    assert given.votes(queries) == plain.votes(queries) and embed.texts == []
    assert given.dense is None


def test_cached_embeddings_round_trip_without_embedding_the_posts_again(tmp_path):
    posts, embed = _posts(), BagOfWords()
    labels = LabelSet.build(posts)
    options = RetrievalOptions(k=2, labels=2, encoder="both")
    index = RetrievalIndex.build(posts, labels, options, embed=embed)
    index.save(tmp_path)
    assert (tmp_path / EMBEDDINGS_FILE).is_file()
    again = BagOfWords()
    loaded = RetrievalIndex.load(tmp_path, options, len(labels), embed=again)
    assert again.texts == []  # the training posts came from the cache
    queries = [Post("q", "kitten football"), Post("r", "final goal")]
    assert loaded.votes(queries) == index.votes(queries)
    assert loaded.dense is not None and index.dense is not None
    assert np.array_equal(loaded.dense.embeddings, index.dense.embeddings)
    # a model saved with tfidf switched to minilm at predict time embeds them once
    switched = RetrievalIndex.build(posts, labels, RetrievalOptions(k=2, labels=2))
    fresh = BagOfWords()
    minilm = switched.with_options(RetrievalOptions(k=2, labels=2, encoder="minilm"), embed=fresh)
    assert len(fresh.texts) == len(posts) and minilm.dense is not None


def test_embedding_problems_are_named(tmp_path):
    posts = _posts()
    labels = LabelSet.build(posts)
    with pytest.raises(ValueError, match="needs a sentence encoder"):
        RetrievalIndex.build(posts, labels, RetrievalOptions(encoder="minilm"))
    with pytest.raises(ValueError, match="unknown retrieval encoder 'bert'"):
        RetrievalOptions(encoder="bert")  # type: ignore[arg-type]
    EmbeddingIndex(np.zeros((2, 3), dtype=np.float32), BagOfWords()).save(tmp_path)
    with pytest.raises(ValueError, match=r"expected \(3, D\) embeddings"):
        EmbeddingIndex.load(tmp_path, 3, BagOfWords())
    assert EmbeddingIndex.load(tmp_path / "none", 3, BagOfWords()) is None

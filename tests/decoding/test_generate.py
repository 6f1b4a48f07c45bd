"""Ids -> keyphrase strings (<unk> replacement, copied OOV words, top-k uniqueness), and
`generate_keyphrases` on a tiny random MMKP: batched decoding equals one post at a time."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mmkp.data.batching import collate
from mmkp.data.processor import TextProcessor
from mmkp.data.record import Entity, Post
from mmkp.data.vocab import EOS_ID, SPECIALS, UNK_ID, LabelSet, Vocab
from mmkp.decoding.config import DecodeConfig
from mmkp.decoding.generate import (
    ScoredKeyphrase,
    generate_keyphrases,
    keyphrase_text,
    make_strategy,
    nonword_ids,
    source_words,
    to_keyphrases,
)
from mmkp.decoding.strategy import Hypothesis
from mmkp.model.mmkp.config import MMKPConfig
from mmkp.model.registry import build_model

VOCAB = Vocab([*SPECIALS, "cat", "dog", "park"])  # ids 5, 6, 7; extended ids from 8
CAT, DOG, PARK = 5, 6, 7
POST = Post("p", "my cat zorb in park", ocr="", entities=[Entity("dog")])
# X_T = my cat zorb in park <seg> <seg> dog -> OOV words my, zorb, in (ids 8, 9, 10)


def batch_of(*posts: Post, vocab: Vocab = VOCAB, grid=None):
    labels = LabelSet(["cat"])
    return collate(TextProcessor(vocab, labels).examples(list(posts), one2one=False), vocab, grid)


def hyp(tokens: tuple[int, ...], score: float = -1.0, attend: list[int] | None = None):
    """A finished hypothesis whose step j attends to source position attend[j]."""
    attention = torch.zeros(len(tokens), 8)
    for step, position in enumerate(attend or [0] * len(tokens)):
        attention[step, position] = 1.0
    return Hypothesis(tokens, score, score * len(tokens), True, attention)


def test_source_words_decode_extended_ids_and_hide_specials():
    batch = batch_of(POST)
    assert batch.oov_words == [["my", "zorb", "in"]]
    assert source_words(batch, 0, VOCAB) == ["my", "cat", "zorb", "in", "park", None, None, "dog"]
    batch = batch_of(Post("q", "cat ! <number>"))
    assert source_words(batch, 0, VOCAB) == ["cat", None, None, None, None]
    assert source_words(batch, 0, VOCAB, words_only=False) == ["cat", "!", "<number>", None, None]


def test_unk_becomes_the_most_attended_source_word():
    source = source_words(batch_of(POST), 0, VOCAB)
    oov = ["my", "zorb", "in"]
    assert keyphrase_text(hyp((UNK_ID, PARK), attend=[2, 0]), source, oov, VOCAB) == "zorb park"
    # The most attended position is <seg>: the best real word stands in instead.
    attention = torch.tensor([[0.0, 0.3, 0.1, 0.0, 0.0, 0.6, 0.0, 0.0]])
    seg_heavy = Hypothesis((UNK_ID,), -1.0, -1.0, True, attention)
    assert keyphrase_text(seg_heavy, source, oov, VOCAB) == "cat"
    # A source without any word leaves <unk> in place.
    assert keyphrase_text(hyp((UNK_ID,)), [None, None], [], VOCAB) == "<unk>"


def test_extended_ids_map_to_the_rows_oov_words():
    oov = ["my", "zorb", "in"]
    assert keyphrase_text(hyp((9, DOG, 10)), [], oov, VOCAB) == "zorb dog in"
    with pytest.raises(ValueError, match="decoded extended id 11 but the row has only 3"):
        keyphrase_text(hyp((11,)), [], oov, VOCAB)


def test_top_k_keeps_the_best_of_each_distinct_keyphrase():
    source = source_words(batch_of(POST), 0, VOCAB)
    oov = ["my", "zorb", "in"]
    ranked = [
        hyp((CAT,), -0.1),
        hyp((UNK_ID,), -0.2, attend=[1]),  # "cat" again after <unk> replacement
        hyp((DOG,), -0.3),
        hyp((PARK,), -0.4),
    ]
    assert to_keyphrases(ranked, source, oov, VOCAB, top_k=2) == [
        ScoredKeyphrase("cat", -0.1),
        ScoredKeyphrase("dog", -0.3),
    ]
    assert [kp.text for kp in to_keyphrases(ranked, source, oov, VOCAB, top_k=5)] == [
        "cat",
        "dog",
        "park",
    ]
    # The confidence cut-off keeps what lies within the gap of the best score, ends included.
    cut = to_keyphrases(ranked, source, oov, VOCAB, top_k=5, max_score_gap=0.2)
    assert [kp.text for kp in cut] == ["cat", "dog"]
    assert to_keyphrases(ranked, source, oov, VOCAB, top_k=5, max_score_gap=0.0) == [
        ScoredKeyphrase("cat", -0.1)
    ]


def test_unknown_strategy_is_rejected():
    with pytest.raises(ValueError, match="unknown decoding strategy 'sample'; known: beam, greedy"):
        make_strategy(DecodeConfig(strategy="sample"))  # type: ignore[arg-type]


# ---------------------------------------------------------------- a tiny random MMKP

POSTS = [
    Post("1", "so excited for the kca awards tonight", image="1.jpg", ocr="kids choice",
         entities=[Entity("stage"), Entity("crowd")], keyphrases=["kca", "kids choice awards"]),
    Post("2", "rain again in london today", entities=[Entity("umbrella")],
         keyphrases=["london weather"]),
    Post("3", "new phone who dis zorblax", image="3.jpg", ocr="zorblax",
         entities=[Entity("phone")], keyphrases=["zorblax"]),
    Post("4", "the awards show in london", image="4.jpg", keyphrases=["awards"]),
]  # fmt: skip


def grid(post_id: str) -> np.ndarray | None:
    return None if post_id == "2" else np.random.default_rng(int(post_id)).normal(size=(49, 12))


def tiny_model(eos_bias: float):
    """A random tiny MMKP; `eos_bias` on the <eos> logit makes keyphrases end (0.1: after
    1 to 4 words, at different steps per post; -5: never within max_len, so the fallback)."""
    vocab = Vocab.build(POSTS[:2])  # posts 3 and 4 bring OOV words to copy
    labels = LabelSet.build(POSTS)
    config = MMKPConfig(
        emb_size=8, hidden_size=8, num_heads=2, image_dim=12, dropout=0.0, embeddings="random",
        generator_hidden=True, copy_lambda=None, label_copy="split",  # what eos_bias is tuned for
    )  # fmt: skip
    torch.manual_seed(0)
    model = build_model(config, vocab, labels).eval()
    with torch.no_grad():
        model.generator.out.bias[EOS_ID] += eos_bias
        model.generator.switch.bias += 2.0  # mostly generate, so the <eos> bias shows
    return model, vocab


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Every test here runs on one torch thread (see tests/conftest.py)."""


def decode(model, vocab, posts, **settings) -> list[list[ScoredKeyphrase]]:
    batch = batch_of(*posts, vocab=vocab, grid=grid)
    return generate_keyphrases(model, batch, vocab, DecodeConfig(**settings))


@pytest.mark.parametrize("eos_bias", [-5.0, 0.1])
@pytest.mark.parametrize("strategy", ["beam", "greedy"])
def test_batched_generation_equals_one_post_at_a_time(strategy, eos_bias):
    model, vocab = tiny_model(eos_bias)
    batched = decode(model, vocab, POSTS, beam_size=4, strategy=strategy)
    alone = [decode(model, vocab, [post], beam_size=4, strategy=strategy)[0] for post in POSTS]
    assert [[kp.text for kp in row] for row in batched] == [[kp.text for kp in r] for r in alone]
    assert [kp.score for row in batched for kp in row] == pytest.approx(
        [kp.score for row in alone for kp in row], abs=1e-5
    )
    for row in batched:
        assert 1 <= len(row) <= (5 if strategy == "beam" else 1)
        assert [kp.score for kp in row] == sorted((kp.score for kp in row), reverse=True)
        assert len({kp.text for kp in row}) == len(row)
        assert all(kp.text and "<unk>" not in kp.text for kp in row)


def test_keyphrase_lengths_follow_the_search():
    model, vocab = tiny_model(-5.0)  # nothing ends: the fallback gives max_len-word phrases
    assert {len(kp.text.split()) for row in decode(model, vocab, POSTS) for kp in row} == {6}
    model, vocab = tiny_model(0.1)
    lengths = [[len(kp.text.split()) for kp in row] for row in decode(model, vocab, POSTS)]
    assert max(map(max, lengths)) > 1 and min(map(min, lengths)) == 1


def test_nonwords_are_blocked_unless_asked_for():
    vocab = Vocab([*SPECIALS, "cat", "!", "<number>", "2020", "close-up", "a1"])
    assert nonword_ids(vocab) == (6, 7, 9)
    model, vocab = tiny_model(0.1)
    assert [vocab.word(i) for i in nonword_ids(vocab)] == [";"]  # the entity separator
    with torch.no_grad():
        model.generator.out.bias[vocab.id(";")] += 5.0  # now the most likely word

    def words(**kwargs) -> set[str]:
        rows = decode(model, vocab, POSTS, **kwargs)
        return {word for row in rows for kp in row for word in kp.text.split()}

    assert ";" not in words()
    assert ";" in words(words_only=False)

"""`block_repeats`: no keyphrase gets a word twice, stepped through hand-built tables; with
the option off the search is exactly what it was."""

from __future__ import annotations

import pytest

from mmkp.data.vocab import BOS_ID, EOS_ID, SEG_ID, UNK_ID
from mmkp.decoding.beam_search import BeamSearch
from mmkp.decoding.config import DecodeConfig
from mmkp.decoding.generate import make_strategy
from mmkp.decoding.greedy import GreedySearch
from mmkp.decoding.strategy import DecodeStrategy, Hypothesis

from .conftest import VOCAB, A, B, C, RandomModel, TableModel, avg

COPIED = VOCAB  # the first extended id: a copied out-of-vocabulary source word
EXTENDED = VOCAB + 2  # V_ext: two copy slots

# "a a" is the most probable keyphrase; "a b" is the best without a repeat.
STUTTER: dict = {
    (): {A: 0.7, B: 0.3},
    (A,): {A: 0.6, B: 0.3, EOS_ID: 0.1},
    (A, A): {EOS_ID: 1.0},
    (A, B): {EOS_ID: 1.0},
    (B,): {EOS_ID: 0.6, B: 0.4},
    (B, B): {EOS_ID: 1.0},
}
# The same with a copied word: "x x" (x an extended id) against "x c".
COPY_STUTTER: dict = {
    (): {COPIED: 0.8, C: 0.2},
    (COPIED,): {COPIED: 0.7, C: 0.2, EOS_ID: 0.1},
    (COPIED, COPIED): {EOS_ID: 1.0},
    (COPIED, C): {EOS_ID: 1.0},
    (C,): {EOS_ID: 1.0},
}


def beam(size: int, max_len: int, **kwargs) -> BeamSearch:
    return BeamSearch(size, max_len=max_len, bos_id=BOS_ID, eos_id=EOS_ID, **kwargs)


def greedy(max_len: int, **kwargs) -> GreedySearch:
    return GreedySearch(max_len=max_len, bos_id=BOS_ID, eos_id=EOS_ID, **kwargs)


def run(search: DecodeStrategy, tables: list[dict]) -> list[list[Hypothesis]]:
    model = TableModel(tables, vocab=EXTENDED)
    return search.search(model, model.initial_state(), len(tables))


def summary(hypotheses: list[Hypothesis]) -> list[tuple[tuple[int, ...], float]]:
    return [(h.tokens, round(h.score, 6)) for h in hypotheses]


def test_beam_search_repeats_a_word_only_without_the_option():
    (plain,) = run(beam(3, 3), [STUTTER])
    assert summary(plain) == [
        ((A, A), round(avg(0.7, 0.6, 1.0), 6)),
        ((A, B), round(avg(0.7, 0.3, 1.0), 6)),
        ((B,), round(avg(0.3, 0.6), 6)),
    ]
    (blocked,) = run(beam(3, 3, block_repeats=True), [STUTTER])
    # "a a" and "b b" are gone; "a b" leads, and "a" alone takes a freed slot
    assert summary(blocked) == [
        ((A, B), round(avg(0.7, 0.3, 1.0), 6)),
        ((B,), round(avg(0.3, 0.6), 6)),
        ((A,), round(avg(0.7, 0.1), 6)),
    ]


def test_a_copied_word_is_blocked_by_its_extended_id():
    (plain,) = run(beam(2, 3), [COPY_STUTTER])
    assert plain[0].tokens == (COPIED, COPIED)
    (blocked,) = run(beam(2, 3, block_repeats=True), [COPY_STUTTER])
    assert [h.tokens for h in blocked] == [(COPIED, C), (C,)]


def test_examples_are_blocked_by_their_own_words_only():
    # Example 2 may say "a" after "b": example 1's "a" does not block it.
    other: dict = {(): {B: 1.0}, (B,): {A: 0.9, EOS_ID: 0.1}, (B, A): {EOS_ID: 1.0}}
    first, second = run(beam(2, 3, block_repeats=True), [STUTTER, other])
    assert first[0].tokens == (A, B)
    assert second[0].tokens == (B, A)


def test_greedy_repeats_a_word_only_without_the_option():
    ((plain,),) = run(greedy(3), [STUTTER])
    assert (plain.tokens, plain.score) == ((A, A), pytest.approx(avg(0.7, 0.6, 1.0)))
    ((blocked,),) = run(greedy(3, block_repeats=True), [STUTTER])
    assert (blocked.tokens, blocked.score) == ((A, B), pytest.approx(avg(0.7, 0.3, 1.0)))
    ((copied,),) = run(greedy(3, block_repeats=True), [COPY_STUTTER])
    assert copied.tokens == (COPIED, C)


def test_unk_may_repeat():
    table: dict = {
        (): {UNK_ID: 1.0},
        (UNK_ID,): {UNK_ID: 0.9, A: 0.1},
        (UNK_ID, UNK_ID): {EOS_ID: 1.0},
    }
    ((hypothesis,),) = run(greedy(3, block_repeats=True, repeatable_ids=[UNK_ID]), [table])
    assert hypothesis.tokens == (UNK_ID, UNK_ID)


def test_after_a_separator_a_new_keyphrase_may_reuse_a_word():
    table: dict = {
        (): {A: 1.0},
        (A,): {SEG_ID: 1.0},
        (A, SEG_ID): {A: 1.0},  # "a" again: a new keyphrase
        (A, SEG_ID, A): {A: 0.9, B: 0.1},  # but not twice inside it
        (A, SEG_ID, A, B): {EOS_ID: 1.0},
    }
    ((hypothesis,),) = run(greedy(5, block_repeats=True, separator=SEG_ID), [table])
    assert hypothesis.tokens == (A, SEG_ID, A, B)


def test_on_random_tables_no_hypothesis_repeats_a_token():
    model = RandomModel(vocab=EXTENDED, seed=5, eos_bias=0.2)
    state = TableModel([{}] * 8).initial_state()

    def tokens(search: DecodeStrategy) -> list[tuple[int, ...]]:
        return [h.tokens for hyps in search.search(model, state, 8) for h in hyps]

    assert any(len(set(t)) < len(t) for t in tokens(beam(4, 6)))  # the tables do repeat
    for search in (beam(4, 6, block_repeats=True), greedy(6, block_repeats=True)):
        assert all(len(set(t)) == len(t) for t in tokens(search))


@pytest.mark.parametrize("strategy", ["beam", "greedy"])
def test_the_option_off_is_the_search_as_before(strategy):
    model = RandomModel(vocab=EXTENDED, seed=11, eos_bias=0.2)
    state = TableModel([{}] * 6).initial_state()
    before = beam(4, 6) if strategy == "beam" else greedy(6)
    off = make_strategy(DecodeConfig(beam_size=4, max_len=6, strategy=strategy), ())
    assert DecodeConfig().block_repeats is False
    expected, got = before.search(model, state, 6), off.search(model, state, 6)
    assert [[(h.tokens, h.score, h.log_prob) for h in hyps] for hyps in got] == [
        [(h.tokens, h.score, h.log_prob) for h in hyps] for hyps in expected
    ]


def test_make_strategy_passes_the_option_on_and_never_blocks_unk():
    search = make_strategy(DecodeConfig(block_repeats=True), (), separator=SEG_ID)
    assert search.block_repeats and search.separator == SEG_ID
    assert search.repeatable_ids.tolist() == [UNK_ID]

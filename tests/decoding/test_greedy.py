"""Greedy decoding on a hand-built table, and against beam search with one beam."""

from __future__ import annotations

import pytest

from mmkp.data.vocab import BOS_ID, EOS_ID
from mmkp.decoding.beam_search import BeamSearch
from mmkp.decoding.greedy import GreedySearch

from .conftest import A, B, C, D, RandomModel, TableModel, avg

TABLE: dict = {
    (): {EOS_ID: 0.5, A: 0.3, B: 0.2},  # <eos> is blocked at the first step
    (A,): {C: 0.6, EOS_ID: 0.4},
    (A, C): {D: 0.55, EOS_ID: 0.45},
    (A, C, D): {EOS_ID: 1.0},
    (B,): {EOS_ID: 1.0},
}


def greedy(max_len: int) -> GreedySearch:
    return GreedySearch(max_len=max_len, bos_id=BOS_ID, eos_id=EOS_ID)


def test_greedy_follows_the_most_probable_token():
    model = TableModel([TABLE, {(): {B: 1.0}, (B,): {EOS_ID: 1.0}}])
    first, second = greedy(6).search(model, model.initial_state(), 2)
    assert [(h.tokens, h.score, h.finished) for h in first] == [
        ((A, C, D), pytest.approx(avg(0.3, 0.6, 0.55, 1.0)), True)
    ]
    assert [(h.tokens, h.finished) for h in second] == [((B,), True)]
    assert model.rows_per_step == [2, 2, 1, 1]  # the second example ended at step 2
    assert first[0].attention.argmax(dim=1).tolist() == [BOS_ID, A, C]


def test_greedy_keeps_an_unfinished_keyphrase_when_it_is_the_only_one():
    model = TableModel([TABLE])
    ((hypothesis,),) = greedy(2).search(model, model.initial_state(), 1)
    assert (hypothesis.tokens, hypothesis.finished) == ((A, C), False)
    assert hypothesis.score == pytest.approx(avg(0.3, 0.6))


def test_greedy_equals_beam_search_with_one_beam():
    model = RandomModel(seed=7, eos_bias=0.3)
    state = TableModel([{}] * 6).initial_state()
    one_beam = BeamSearch(1, max_len=6, bos_id=BOS_ID, eos_id=EOS_ID).search(model, state, 6)
    result = greedy(6).search(model, state, 6)
    assert [[h.tokens for h in hyps] for hyps in result] == [
        [h.tokens for h in hyps] for hyps in one_beam
    ]
    assert [h.score for hyps in result for h in hyps] == pytest.approx(
        [h.score for hyps in one_beam for h in hyps]
    )
    assert {h.finished for hyps in result for h in hyps} == {True, False}  # both kinds occur

"""Beam search stepped through hand-built probability tables (exact ids, order, scores)."""

from __future__ import annotations

import math

import pytest

from mmkp.data.vocab import BOS_ID, EOS_ID, SEG_ID
from mmkp.decoding.beam_search import BeamSearch
from mmkp.decoding.strategy import Hypothesis

from .conftest import A, B, C, D, RandomModel, TableModel, avg

# Example 1: <eos> first is likely but blocked; "a" ends early, "a c" wins after averaging.
LONG: dict = {
    (): {EOS_ID: 0.5, A: 0.3, B: 0.15, C: 0.05},
    (A,): {EOS_ID: 0.5, C: 0.4, D: 0.1},
    (B,): {EOS_ID: 0.3, D: 0.7},
    (A, C): {EOS_ID: 0.9, D: 0.1},
}
# Example 2: both beams end at the second step.
SHORT: dict = {
    (): {B: 0.6, D: 0.4},
    (B,): {EOS_ID: 0.9, A: 0.1},
    (D,): {EOS_ID: 0.8, C: 0.2},
}
# Example 3: nothing can end within two tokens.
OPEN: dict = {(): {A: 0.6, B: 0.4}, (A,): {C: 0.7, D: 0.3}, (B,): {C: 1.0}}


def beam(size: int, max_len: int, **kwargs) -> BeamSearch:
    return BeamSearch(size, max_len=max_len, bos_id=BOS_ID, eos_id=EOS_ID, **kwargs)


def run(search: BeamSearch, tables: list[dict]) -> tuple[list[list[Hypothesis]], list[int]]:
    model = TableModel(tables)
    return search.search(model, model.initial_state(), len(tables)), model.rows_per_step


def summary(hypotheses: list[Hypothesis]) -> list[tuple[tuple[int, ...], float, bool]]:
    return [(h.tokens, round(h.score, 6), h.finished) for h in hypotheses]


def test_beam_ranks_by_average_log_prob():
    (result,), rows = run(beam(2, 3), [LONG])
    # step 1: a .3, b .15 (<eos> .5 blocked); step 2: a<eos> .15 and a c .12 beat b d .105;
    # step 3: a c <eos> .108 is the second finished hypothesis -> done.
    assert summary(result) == [
        ((A, C), round(avg(0.3, 0.4, 0.9), 6), True),
        ((A,), round(avg(0.3, 0.5), 6), True),
    ]
    assert result[0].log_prob == pytest.approx(math.log(0.3 * 0.4 * 0.9))
    assert rows == [2, 2, 2]
    # Each token's attention is the step's: one-hot on the previous token (<bos>, then a).
    assert result[0].attention.argmax(dim=1).tolist() == [BOS_ID, A]
    assert result[0].attention.shape == (2, 16)


def test_without_length_penalty_the_short_keyphrase_wins():
    (result,), _ = run(beam(2, 3, penalty="none"), [LONG])
    assert summary(result) == [
        ((A,), round(math.log(0.15), 6), True),
        ((A, C), round(math.log(0.108), 6), True),
    ]


def test_unfinished_hypotheses_are_dropped_when_a_finished_one_exists():
    (result,), _ = run(beam(2, 2), [LONG])  # a c is still open after two tokens
    assert summary(result) == [((A,), round(avg(0.3, 0.5), 6), True)]


def test_unfinished_hypotheses_are_the_fallback_when_none_finished():
    (result,), _ = run(beam(2, 2), [OPEN])
    assert summary(result) == [
        ((A, C), round(math.log(0.42) / 2, 6), False),
        ((B, C), round(math.log(0.4) / 2, 6), False),
    ]


def test_examples_finishing_at_different_steps_match_decoding_alone():
    alone = [run(beam(2, 3), [table])[0][0] for table in (SHORT, LONG)]
    assert summary(alone[0]) == [
        ((B,), round(avg(0.6, 0.9), 6), True),
        ((D,), round(avg(0.4, 0.8), 6), True),
    ]
    for tables, order in (([SHORT, LONG], [0, 1]), ([LONG, SHORT], [1, 0])):
        result, rows = run(beam(2, 3), tables)
        assert [summary(r) for r in result] == [summary(alone[i]) for i in order]
        assert rows == [4, 4, 2]  # the finished example's rows left the state after step 2


def test_dead_beams_never_become_hypotheses():
    # Only two first tokens exist, so three of five beams start (and stay) at -inf.
    (result,), rows = run(beam(5, 4), [SHORT])
    assert summary(result) == [
        ((B,), round(avg(0.6, 0.9), 6), True),
        ((D,), round(avg(0.4, 0.8), 6), True),
    ]
    assert rows == [5, 5, 5]  # at step 3 every live prefix has probability 0: done


def test_blocked_tokens_are_never_generated():
    table = {(): {SEG_ID: 0.9, A: 0.1}, (A,): {EOS_ID: 1.0}, (SEG_ID,): {EOS_ID: 1.0}}
    (result,), _ = run(beam(2, 2, blocked_ids=[SEG_ID]), [table])
    assert summary(result) == [((A,), round(avg(0.1, 1.0), 6), True)]


def test_batched_search_equals_one_example_at_a_time_on_random_tables():
    model = RandomModel(seed=3)
    search = beam(4, 5)
    batched = search.search(model, TableModel([{}] * 5).initial_state(), 5)
    for example in range(5):
        (alone,) = search.search(model, TableModel([{}]).initial_state([example]), 1)
        assert [h.tokens for h in alone] == [h.tokens for h in batched[example]]
        assert [h.score for h in alone] == pytest.approx([h.score for h in batched[example]])
    # The stopping rule: every example collected at least K finished hypotheses.
    assert all(len(hyps) >= 4 and all(h.finished for h in hyps) for hyps in batched)


def test_invalid_settings_are_rejected():
    with pytest.raises(ValueError, match="beam_size must be >= 1, got 0"):
        beam(0, 3)
    with pytest.raises(ValueError, match="max_len must be >= 1, got 0"):
        beam(2, 0)
    with pytest.raises(ValueError, match="unknown length penalty 'gnmt'"):
        beam(2, 3, penalty="gnmt")

"""The ensemble decoded as one model: mean step log-probabilities, states reordered together
(hand-built tables; the real models' ensemble is in tests/inference/test_ensemble.py)."""

from __future__ import annotations

import math

import pytest
import torch

from mmkp.data.vocab import BOS_ID, EOS_ID
from mmkp.decoding.beam_search import BeamSearch
from mmkp.decoding.ensemble import Ensemble, EnsembleState

from .conftest import A, B, RandomModel, TableModel

# Alone, the first model prefers "a" and the second "b"; together (geometric mean) "b".
FIRST: dict = {(): {A: 0.8, B: 0.2}, (A,): {EOS_ID: 1.0}, (B,): {EOS_ID: 1.0}}
SECOND: dict = {(): {A: 0.1, B: 0.9}, (A,): {EOS_ID: 1.0}, (B,): {EOS_ID: 1.0}}


def beam(size: int = 2, max_len: int = 3) -> BeamSearch:
    return BeamSearch(size, max_len=max_len, bos_id=BOS_ID, eos_id=EOS_ID)


def ensemble_state(members: int, examples: int) -> EnsembleState:
    """Each member's own fresh table state for `examples` examples."""
    fresh = TableModel([{}] * examples)
    states = tuple(fresh.initial_state() for _ in range(members))
    return EnsembleState(states, examples, torch.device("cpu"))


def test_the_ensemble_ranks_by_the_mean_of_the_members_log_probs():
    models = [TableModel([FIRST]), TableModel([SECOND])]
    (result,) = beam().search(Ensemble(models), ensemble_state(2, 1), 1)
    # "b": (log .2 + log .9) / 2 at the first token, log 1 at <eos>, averaged over 2 tokens
    assert [h.tokens for h in result] == [(B,), (A,)]
    assert result[0].score == pytest.approx((math.log(0.2) + math.log(0.9)) / 4)
    assert result[1].score == pytest.approx((math.log(0.8) + math.log(0.1)) / 4)
    assert models[0].rows_per_step == models[1].rows_per_step  # both stepped every row


def test_an_ensemble_of_one_or_of_the_same_model_twice_is_the_model():
    alone = RandomModel(seed=3)
    expected = beam(4, 5).search(alone, ensemble_state(1, 3).members[0], 3)
    for members in ([alone], [alone, alone]):
        found = beam(4, 5).search(Ensemble(members), ensemble_state(len(members), 3), 3)
        assert [[(h.tokens, h.score) for h in row] for row in found] == [
            [(h.tokens, h.score) for h in row] for row in expected
        ]
        for row, reference in zip(found, expected, strict=True):
            for h, r in zip(row, reference, strict=True):
                assert torch.equal(h.attention, r.attention)


def test_step_is_the_mean_and_each_member_keeps_its_own_state():
    members = [RandomModel(seed=1), RandomModel(seed=2)]
    ensemble, state = Ensemble(members), ensemble_state(2, 2)
    tokens = torch.full((2,), BOS_ID)
    log_probs, attention, after = ensemble.step(tokens, state)
    alone = [m.step(tokens, s) for m, s in zip(members, state.members, strict=True)]
    torch.testing.assert_close(log_probs, (alone[0][0] + alone[1][0]) / 2, rtol=0, atol=0)
    torch.testing.assert_close(attention, (alone[0][1] + alone[1][1]) / 2, rtol=0, atol=0)
    # one reorder moves every member's state; the next step reads each member's own prefix
    index, tokens = torch.tensor([1, 1, 0]), torch.tensor([A, B, A])
    log_probs, _, _ = ensemble.step(tokens, after.reorder(index))
    again = [m.step(tokens, s.reorder(index)) for m, (_, _, s) in zip(members, alone, strict=True)]
    torch.testing.assert_close(log_probs, (again[0][0] + again[1][0]) / 2, rtol=0, atol=0)
    assert after.reorder(index).rows == 3


def test_members_that_cannot_be_stepped_together_are_refused():
    class OwnSearch(RandomModel):
        def search_keyphrases(self, *args, **kwargs):  # One2Set's kind of model
            return []

    with pytest.raises(ValueError, match="searches its keyphrases itself"):
        Ensemble([RandomModel(), OwnSearch()])
    with pytest.raises(ValueError, match="at least one model"):
        Ensemble([])

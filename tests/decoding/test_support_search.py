"""Beam search over log P held on its support (`SupportLogProbs`): the very hypotheses of
the full width (ids, scores, attention), whether it selects over the support or, where that
is not provably exact, over the full width."""

from __future__ import annotations

import torch

from mmkp.data.vocab import BOS_ID, EOS_ID, SEG_ID
from mmkp.decoding.beam_search import BeamSearch, selects_exactly
from mmkp.model.modules.support import SupportLogProbs

from .conftest import RandomModel, TableModel, TableState

WIDTH = 90
FLOOR = -30.0


class SupportModel:
    """`RandomModel`'s distributions with every id off `support` at FLOOR: `step` gives
    them on the support (plus one pad column, id WIDTH), or, with `full`, as (N, WIDTH)."""

    def __init__(self, support: list[int], *, full: bool):
        self.inner = RandomModel(vocab=WIDTH, seed=5, eos_bias=2.0)
        self.ids = torch.tensor([[*support, WIDTH]])  # (1, S): one support for every row
        self.full = full

    def step(
        self, tokens: torch.Tensor, state: TableState
    ) -> tuple[torch.Tensor | SupportLogProbs, torch.Tensor, TableState]:
        log_probs, attention, state = self.inner.step(tokens, state)
        off = torch.ones(WIDTH + 1, dtype=torch.bool).index_fill_(0, self.ids[0], False)
        log_probs = log_probs.clamp_min(FLOOR).masked_fill_(off[:WIDTH], FLOOR)
        if self.full:
            return log_probs, attention, state
        padded = torch.cat([log_probs, torch.full((len(tokens), 1), FLOOR)], 1)
        values = padded[:, self.ids[0]]  # (N, S)
        return SupportLogProbs(values, self.ids, WIDTH, FLOOR), attention, state


def _same_hypotheses(support: list[int], **kwargs) -> None:
    search = BeamSearch(4, max_len=4, bos_id=BOS_ID, eos_id=EOS_ID, **kwargs)
    start = TableModel([{}] * 3).initial_state()
    on_support = search.search(SupportModel(support, full=False), start, 3)
    full = search.search(SupportModel(support, full=True), start, 3)
    assert all(on_support)
    for ours, theirs in zip(on_support, full, strict=True):
        assert [(h.tokens, h.score, h.log_prob, h.finished) for h in ours] == [
            (h.tokens, h.score, h.log_prob, h.finished) for h in theirs
        ]
        assert all(torch.equal(a.attention, b.attention) for a, b in zip(ours, theirs, strict=True))


def test_a_support_with_a_long_prefix_is_searched_on_the_support_exactly():
    support = [*range(70), 75, 80]
    assert selects_exactly(
        SupportModel(support, full=False).step(
            torch.full((1,), BOS_ID), TableModel([{}]).initial_state()
        )[0],
        4,
        2,
    )
    _same_hypotheses(support, blocked_ids=[SEG_ID])
    _same_hypotheses(support, block_repeats=True, repeatable_ids=[1])


def test_a_support_with_an_early_gap_falls_back_to_the_full_width():
    support = [0, 1, 2, 5, *range(8, 80)]  # ids 3 (<eos>), 4, 6, 7 off the support
    step = SupportModel(support, full=False).step(
        torch.full((1,), BOS_ID), TableModel([{}]).initial_state()
    )[0]
    assert isinstance(step, SupportLogProbs) and not selects_exactly(step, 4, 0)
    _same_hypotheses(support, blocked_ids=[SEG_ID])


def test_a_support_under_64_columns_is_never_searched_on():
    ids = torch.arange(63)[None]
    rows = SupportLogProbs(torch.zeros(2, 63), ids, 100, -30.0)
    assert not selects_exactly(rows, 1, 0)
    assert selects_exactly(
        SupportLogProbs(torch.zeros(2, 64), torch.arange(64)[None], 100, -30.0), 1, 0
    )

"""mmkp.model.modules.pooling: the masked mean and guided attention, on hand-built values."""

from __future__ import annotations

import torch

from mmkp.model.modules.pooling import GuidedAttention, masked_mean


def test_masked_mean_averages_the_real_positions_and_gives_zero_for_none():
    states = torch.tensor(
        [[[1.0, 2.0], [3.0, 6.0], [100.0, 100.0]], [[5.0, 5.0], [7.0, 7.0], [9.0, 9.0]]]
    )
    mask = torch.tensor([[True, True, False], [False, False, False]])
    assert torch.equal(masked_mean(states, mask), torch.tensor([[2.0, 4.0], [0.0, 0.0]]))


def test_guided_attention_is_bahdanau_attention_and_empty_rows_pool_to_zero():
    torch.manual_seed(0)
    attention = GuidedAttention(3)
    guide, items = torch.randn(2, 3), torch.randn(2, 4, 3)
    mask = torch.tensor([[True, True, True, False], [False, False, False, False]])
    context, weights = attention(guide, items, mask)

    inner = attention.attention
    energy = torch.tanh(inner.query(guide[0]) + inner.key(items[0, :3]))  # (3, d)
    expected = torch.softmax(inner.v(energy).squeeze(-1), dim=0)
    assert torch.allclose(weights[0, :3], expected) and weights[0, 3] == 0
    assert torch.allclose(context[0], expected @ items[0, :3])
    assert torch.equal(context[1], torch.zeros(3)) and torch.equal(weights[1], torch.zeros(4))
    assert not context.isnan().any()

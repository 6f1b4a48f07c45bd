"""Each component alone: shapes, masks and the exact formulas."""

from __future__ import annotations

import math

import pytest
import torch

from mmkp.model.modules.attention import CrossAttention
from mmkp.model.modules.classifier import classification_loss
from mmkp.model.modules.image_encoder import ImageEncoder
from mmkp.model.modules.image_text_matcher import matching_loss
from mmkp.model.modules.region_filter import RegionFilter, region_loss
from mmkp.model.modules.text_encoder import TextEncoder, masked_max


def test_masked_max_ignores_padding_and_zeroes_empty_rows():
    states = torch.tensor([[[1.0, -5.0], [3.0, -2.0], [99.0, 99.0]], [[7.0, 7.0]] * 3])
    mask = torch.tensor([[True, True, False], [False, False, False]])
    assert masked_max(states, mask).tolist() == [[3.0, -2.0], [0.0, 0.0]]


def test_text_encoder_is_blind_to_padding():
    torch.manual_seed(0)
    encoder = TextEncoder(vocab_size=30, emb_size=6, hidden_size=5, dropout=0.0)
    ids = torch.tensor([[5, 6, 7, 0, 0], [8, 9, 10, 11, 12]])
    types = torch.tensor([[0, 1, 2, 0, 0], [0, 0, 1, 1, 2]])
    mask = ids != 0
    out = encoder(ids, types, mask)
    assert out.memory.shape == (2, 5, 10) and out.pooled.shape == out.final.shape == (2, 10)
    assert out.memory[0, 3:].abs().sum() == 0
    # The same first row alone, without padding: identical states, pooled vector, final state.
    alone = encoder(ids[:1, :3], types[:1, :3], mask[:1, :3])
    torch.testing.assert_close(alone.memory[0], out.memory[0, :3])
    torch.testing.assert_close(alone.pooled[0], out.pooled[0])
    torch.testing.assert_close(alone.final[0], out.final[0])
    # Types matter: the same words as another segment give other states.
    other = encoder(ids[:1, :3], torch.zeros(1, 3, dtype=torch.long), mask[:1, :3])
    assert not torch.allclose(other.pooled, alone.pooled)


def test_cross_attention_masks_keys_and_empty_rows():
    torch.manual_seed(0)
    attention = CrossAttention(size=8, num_heads=2)
    query, keys = torch.randn(3, 8), torch.randn(3, 4, 8)
    mask = torch.tensor([[True, True, False, False], [True] * 4, [False] * 4])
    context, weights = attention(query, keys, mask)
    assert weights.shape == (3, 2, 4)
    assert (weights[0, :, 2:] == 0).all()
    torch.testing.assert_close(weights[:2].sum(-1), torch.ones(2, 2))
    assert (weights[2] == 0).all() and (context[2] == 0).all()
    # Masked keys do not influence the context.
    changed = keys.clone()
    changed[0, 2:] = 1000.0
    torch.testing.assert_close(attention(query, changed, mask)[0][0], context[0])


def test_image_encoder_zeroes_image_less_rows_and_checks_channels():
    encoder = ImageEncoder(image_dim=5, size=4, dropout=0.0)
    grid = torch.randn(2, 49, 5)
    out = encoder(grid, torch.tensor([True, False]))
    assert out.regions.shape == (2, 49, 4)
    assert out.regions[1].abs().sum() == 0 and out.regions[0].abs().sum() > 0
    assert out.mask[0].all() and not out.mask[1].any()
    with pytest.raises(ValueError, match=r"6 channels but model\.image_dim is 5"):
        encoder(torch.randn(2, 49, 6), torch.tensor([True, True]))


def test_region_scores_follow_eq4():
    torch.manual_seed(0)
    region_filter = RegionFilter(size=4)
    text, regions, match = torch.randn(2, 4), torch.randn(2, 49, 4), torch.tensor([0.9, 0.1])
    raw = (region_filter.region(regions) @ region_filter.text(text).unsqueeze(-1)).squeeze(-1)
    raw = raw / 2.0  # sqrt(d) with d = 4
    expected = region_filter.ffn((raw + match[:, None]).unsqueeze(-1)).squeeze(-1)
    torch.testing.assert_close(region_filter.scores(text, regions, match), expected)
    without_match = region_filter.ffn(raw.unsqueeze(-1)).squeeze(-1)
    torch.testing.assert_close(region_filter.scores(text, regions, None), without_match)
    gated = RegionFilter.gate(expected, regions)
    torch.testing.assert_close(gated, torch.sigmoid(expected).unsqueeze(-1) * regions)


def test_region_loss_is_mse_over_selected_rows_with_detached_target():
    scores = torch.tensor([[1.0, 2.0], [5.0, 5.0]], requires_grad=True)
    target = torch.tensor([[0.0, 0.0], [0.0, 0.0]], requires_grad=True)
    loss = region_loss(scores, target, torch.tensor([True, False]))
    assert loss.item() == 2.5  # (1 + 4) / 2
    loss.backward()
    assert target.grad is None and scores.grad[1].abs().sum() == 0
    none = region_loss(scores, target, torch.tensor([False, False]))
    assert none.item() == 0.0 and none.requires_grad


def test_matching_loss_skips_unlabelled_and_image_less_rows():
    logits = torch.tensor([0.0, 2.0, -1.0])
    labels = torch.tensor([1.0, math.nan, 0.0])
    loss = matching_loss(logits, labels, torch.tensor([True, True, True]))
    expected = (math.log(2) + math.log(1 + math.e**-1)) / 2
    assert math.isclose(loss.item(), expected, rel_tol=1e-6)
    only_first = matching_loss(logits, labels, torch.tensor([True, True, False]))
    assert math.isclose(only_first.item(), math.log(2), rel_tol=1e-6)


def test_classification_loss_ignores_rows_without_label():
    logits = torch.tensor([[2.0, 0.0], [0.0, 0.0]], requires_grad=True)
    loss = classification_loss(logits, torch.tensor([0, -100]))
    assert math.isclose(loss.item(), math.log(1 + math.exp(-2)), rel_tol=1e-6)
    empty = classification_loss(logits, torch.tensor([-100, -100]))
    assert empty.item() == 0.0 and empty.requires_grad

"""The training path of the decoder's additive attention scores (`_AdditiveScores`): the same
scores and the same gradients, to the bit, as autograd's own composition of the operations."""

from __future__ import annotations

import pytest
import torch

from mmkp.model.modules.decoder import AdditiveAttention, _AdditiveScores


def _autograd_scores(attention: AdditiveAttention, query, keys) -> torch.Tensor:
    energy = (query.unsqueeze(2) + keys.unsqueeze(1)).tanh_()
    return attention.v(energy).squeeze(-1)


def _scores_and_grads(attention, query, keys, upstream, scores_of):
    query = query.clone().requires_grad_()
    keys = keys.clone().requires_grad_()
    attention.zero_grad(set_to_none=True)
    scores = scores_of(attention, query, keys)
    scores.backward(upstream)
    return scores.detach(), query.grad, keys.grad, attention.v.weight.grad


@pytest.mark.parametrize("shape", [(1, 1, 1, 8), (3, 1, 17, 16), (8, 5, 37, 300), (64, 7, 90, 300)])
def test_training_scores_and_gradients_equal_autograds(shape: tuple[int, int, int, int]) -> None:
    batch, steps, length, size = shape
    torch.manual_seed(sum(shape))
    attention = AdditiveAttention(size)
    query, keys = torch.randn(batch, steps, size), torch.randn(batch, length, size)
    upstream = torch.randn(batch, steps, length)
    ours = _scores_and_grads(attention, query, keys, upstream, AdditiveAttention._scores)
    reference = _scores_and_grads(attention, query, keys, upstream, _autograd_scores)
    for got, want in zip(ours, reference, strict=True):
        assert got.shape == want.shape
        assert torch.equal(got, want)


def test_gradcheck_in_double() -> None:
    torch.manual_seed(0)
    attention = AdditiveAttention(6).double()
    query = torch.randn(2, 3, 6, dtype=torch.double, requires_grad=True)
    keys = torch.randn(2, 4, 6, dtype=torch.double, requires_grad=True)
    assert torch.autograd.gradcheck(lambda q, k: attention._scores(q, k), (query, keys))
    weight = attention.v.weight.detach().clone().requires_grad_()
    assert torch.autograd.gradcheck(
        lambda w: _AdditiveScores.apply(query.detach(), keys.detach(), w), (weight,)
    )


def test_without_gradients_the_scores_are_the_same() -> None:
    torch.manual_seed(1)
    attention = AdditiveAttention(12)
    query, keys = torch.randn(4, 2, 12), torch.randn(4, 9, 12)
    with torch.no_grad():
        plain = attention._scores(query, keys)
    assert torch.equal(attention._scores(query, keys).detach(), plain)

"""packed_bigru against nn.GRU on CPU: outputs, final states, every gradient equal to the bit."""

from __future__ import annotations

import random

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from mmkp.model.modules.packed_gru import packed_bigru
from mmkp.model.modules.text_encoder import TextEncoder


def _results(rnn: nn.GRU, run, x: torch.Tensor, lengths: list[int], seed: int) -> list:
    """Outputs, final states, the input's gradient and each parameter's, under a fixed seed."""
    rnn.zero_grad(set_to_none=True)
    inputs = x.clone().requires_grad_(True)
    packed = pack_padded_sequence(
        inputs, torch.tensor(lengths), batch_first=True, enforce_sorted=False
    )
    torch.manual_seed(seed)  # dropout between layers draws the same masks in both
    output, last = run(packed)
    weights = torch.Generator().manual_seed(seed)
    loss = (output.data * torch.randn(output.data.shape, generator=weights)).sum()
    (loss + (last * torch.randn(last.shape, generator=weights)).sum()).backward()
    grads = [inputs.grad] + [p.grad for p in rnn.parameters()]
    return [output.data.detach(), last.detach(), *grads]


def _assert_bit_identical(lengths: list[int], layers: int, emb: int, hidden: int, seed: int):
    torch.manual_seed(seed)
    rnn = nn.GRU(emb, hidden, num_layers=layers, batch_first=True, bidirectional=True)
    rnn.dropout = 0.3 if layers > 1 else 0.0  # nn.GRU warns on dropout for one layer
    x = torch.randn(len(lengths), max(lengths), emb)
    expected = _results(rnn, rnn, x, lengths, seed)
    got = _results(rnn, lambda packed: packed_bigru(rnn, packed), x, lengths, seed)
    assert len(got) == len(expected) == 3 + 4 * 2 * layers
    for index, (a, b) in enumerate(zip(got, expected, strict=True)):
        assert a is not None and torch.equal(a, b), f"result {index} differs for {lengths}"


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize(
    "lengths",
    [
        [5, 3, 1, 4, 1, 2],  # unsorted, length-1 rows
        [4, 4, 4],  # all equal: the batch never shrinks
        [1],
        [1, 1, 1],
        [9, 2, 7, 7, 1, 3, 8, 8],
    ],
)
def test_packed_bigru_matches_nn_gru_bit_for_bit(lengths, layers):
    _assert_bit_identical(lengths, layers, emb=7, hidden=5, seed=len(lengths) + layers)


def test_packed_bigru_matches_nn_gru_at_the_shipped_width():
    rows = random.Random(0)
    for seed in range(3):
        lengths = [rows.randint(1, 30) for _ in range(rows.randint(2, 24))]
        _assert_bit_identical(lengths, layers=1, emb=50, hidden=150, seed=seed)


def test_packed_bigru_refuses_a_unidirectional_gru():
    rnn = nn.GRU(3, 4, batch_first=True)
    packed = pack_padded_sequence(torch.randn(1, 2, 3), torch.tensor([2]), batch_first=True)
    with pytest.raises(ValueError, match="needs a bidirectional GRU with biases"):
        packed_bigru(rnn, packed)


def test_text_encoder_states_equal_with_and_without_gradients():
    # With gradients the encoder runs packed_bigru, without them nn.GRU: the same floats.
    torch.manual_seed(0)
    encoder = TextEncoder(vocab_size=40, emb_size=6, hidden_size=5, dropout=0.0)
    ids = torch.tensor([[5, 6, 7, 0, 0], [8, 9, 10, 11, 12], [0, 0, 0, 0, 0], [13, 0, 0, 0, 0]])
    types = torch.zeros_like(ids)
    mask = ids != 0
    recorded = encoder(ids, types, mask)
    with torch.no_grad():
        plain = encoder(ids, types, mask)
    for name in ("memory", "pooled", "final"):
        assert torch.equal(getattr(recorded, name).detach(), getattr(plain, name)), name

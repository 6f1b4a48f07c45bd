"""A packed bidirectional GRU that gives nn.GRU's CPU results bit for bit, with a cheaper backward.

aten's packed GRU on CPU (`PackedLayer` / `ReversedPackedLayer` in ATen's RNN.cpp) computes the
input projection of every packed row in one `linear`, then `narrow`s it once per time step.
Each narrow's backward allocates a zero gradient of the whole (N, 3H) projection and adds it to
the rest: 2 x L fills and additions of N x 3H floats a batch (N = B * L), O(L^2) memory
traffic that was a quarter of a training step's CPU. Here the projection is `split` once into
the steps, whose backward is one concatenation.

Everything else is aten's own sequence of ops, in its order, so values and gradients are the
same floats: the cell is `GRUCell` with a precomputed input projection
(r = sigmoid(W_hr h + b_hr + x_r), z likewise, n = tanh(x_n + (W_hn h + b_hn) * r),
h' = (h - n) * z + n, with the same in-place ops); the forward direction narrows the hidden
state when rows finish and the reverse one concatenates the initial state of rows that start;
the final states, outputs and stacking are concatenated as aten does. The autograd graph keeps
aten's structure wherever a gradient sums three or more terms (the hidden states, W_hh, b_hh),
so the accumulation order, hence every rounding, is unchanged; only the projection's gradient,
whose per-step pieces never overlap, is gathered differently.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import PackedSequence

Weights = tuple[torch.Tensor, torch.Tensor]  # (W_hh (3H, H), b_hh (3H,)) of one direction


def _cell(
    gates_in: torch.Tensor, hidden: torch.Tensor, w_hh: torch.Tensor, b_hh: torch.Tensor
) -> torch.Tensor:
    """One GRU step from the precomputed input gates (b, 3H) and the hidden state (b, H)."""
    chunked_in = gates_in.unsafe_chunk(3, 1)
    chunked_hid = F.linear(hidden, w_hh, b_hh).unsafe_chunk(3, 1)
    reset = chunked_hid[0].add_(chunked_in[0]).sigmoid_()
    update = chunked_hid[1].add_(chunked_in[1]).sigmoid_()
    new = chunked_in[2].add(chunked_hid[2].mul_(reset)).tanh_()
    return (hidden - new).mul_(update).add_(new)


def _forward_direction(
    steps: tuple[torch.Tensor, ...], batch_sizes: list[int], h0: torch.Tensor, params: Weights
) -> tuple[torch.Tensor, torch.Tensor]:
    """Left to right over the shrinking batch -> (packed outputs (N, H), final states (B, H))."""
    w_hh, b_hh = params
    outputs, finished = [], []
    hidden, last = h0, batch_sizes[0]
    for gates_in, size in zip(steps, batch_sizes, strict=True):
        if size < last:  # rows that ended keep their last state
            finished.append(hidden.narrow(0, size, last - size))
            hidden = hidden.narrow(0, 0, size)
        last = size
        hidden = _cell(gates_in, hidden, w_hh, b_hh)
        outputs.append(hidden)
    finished.append(hidden)
    finished.reverse()
    return torch.cat(outputs, 0), torch.cat(finished, 0)


def _reverse_direction(
    steps: tuple[torch.Tensor, ...], batch_sizes: list[int], h0: torch.Tensor, params: Weights
) -> tuple[torch.Tensor, torch.Tensor]:
    """Right to left over the growing batch -> (packed outputs (N, H), final states (B, H))."""
    w_hh, b_hh = params
    outputs = []
    last = batch_sizes[-1]
    hidden = h0.narrow(0, 0, last)
    for step in range(len(batch_sizes) - 1, -1, -1):
        size = batch_sizes[step]
        if size > last:  # rows that start here join with their initial state
            hidden = torch.cat([hidden, h0.narrow(0, last, size - last)], 0)
        last = size
        hidden = _cell(steps[step], hidden, w_hh, b_hh)
        outputs.append(hidden)
    outputs.reverse()
    return torch.cat(outputs, 0), hidden


def packed_bigru(rnn: nn.GRU, packed: PackedSequence) -> tuple[PackedSequence, torch.Tensor]:
    """`rnn(packed)` for a bidirectional nn.GRU with biases and no initial state, on CPU.

    Returns what nn.GRU returns: the packed outputs (N, 2H) and the final states
    (2 * layers, B, H) in the caller's row order. Dropout between layers draws from the same
    generator as aten, in the same order.
    """
    if not (rnn.bidirectional and rnn.bias and rnn.proj_size == 0):
        raise ValueError(f"packed_bigru: needs a bidirectional GRU with biases, got {rnn}")
    data, sizes = packed.data, packed.batch_sizes
    batch_sizes = sizes.tolist()
    h0 = torch.zeros(2 * rnn.num_layers, batch_sizes[0], rnn.hidden_size, dtype=data.dtype)
    finals = []
    for layer in range(rnn.num_layers):
        if layer > 0 and rnn.training and rnn.dropout != 0:
            data = torch.dropout(data, rnn.dropout, True)
        outputs = []
        for direction, run in ((0, _forward_direction), (1, _reverse_direction)):
            suffix = f"l{layer}" + ("_reverse" if direction else "")
            w_ih, b_ih = getattr(rnn, f"weight_ih_{suffix}"), getattr(rnn, f"bias_ih_{suffix}")
            hh = (getattr(rnn, f"weight_hh_{suffix}"), getattr(rnn, f"bias_hh_{suffix}"))
            steps = F.linear(data, w_ih, b_ih).split(batch_sizes, 0)  # (b_t, 3H) each
            output, final = run(steps, batch_sizes, h0[2 * layer + direction], hh)
            outputs.append(output)
            finals.append(final)
        data = torch.cat(outputs, -1)  # (N, 2H)
    last = torch.stack(finals, 0)  # (2 * layers, B, H), sorted rows
    if packed.unsorted_indices is not None:
        last = last.index_select(1, packed.unsorted_indices)
    output = PackedSequence(data, sizes, packed.sorted_indices, packed.unsorted_indices)
    return output, last

"""Keyphrase decoder (eq. 9): a GRU with additive attention over the text encoder states.

    s_j   = GRU(e(y_{j-1}), s_{j-1}),  s_0 = [last forward ; last backward] encoder state
    e_ji  = v^T tanh(W_s s_j + W_h h_i + b) (+ b_i, an optional per-token bias),
    alpha_j = softmax over the real tokens of X_T
    c_j   = sum_i alpha_ji h_i

The GRU reads only the previous word (no input feeding), so teacher forcing runs the whole
target in one GRU call and decoding runs the same code on one step; both give the same numbers.
`DecoderState` carries everything one step needs, per row, so beam search can reorder it; it
is every generator's state, the Transformer decoders' (modules.transformer) included.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import torch
from torch import nn


@dataclass
class DecoderState:
    """Per-row decoding state; every tensor's first dimension is the row."""

    # GRU: (N, d) s_j. Transformer: (N, t, e) the embedded inputs so far (t = 0 at the start),
    # which each step re-reads (modules.transformer).
    hidden: torch.Tensor
    memory: torch.Tensor  # (N, L, d) text encoder states h_i
    keys: torch.Tensor | None  # (N, L, d) W_h h_i, projected once per source; None: no additive
    # attention (ONE2SEQ / ONE2SET's copy attention projects its own)
    src_mask: torch.Tensor  # (N, L) bool
    src_ext_ids: torch.Tensor  # (N, L) long, extended ids for copying from X_T
    fused: torch.Tensor | None  # (N, d) H_f, added to every context vector (eq. 10); None: no H_f
    copy_ids: torch.Tensor | None  # (N, W) vocab ids of the classifier's top-k label words
    copy_weights: torch.Tensor | None  # (N, W) their copy probabilities, each row sums to one
    ext_size: int  # V_ext = vocabulary size + the batch's number of source OOV words
    extra: torch.Tensor | None = None  # (N, e) added to every decoder input (One2Set's c_n)
    # (N, L) added to the attention scores e_ji (MM-MKP's image-text gate, log g); None: none
    src_bias: torch.Tensor | None = None

    def reorder(self, index: torch.Tensor) -> DecoderState:
        """New state whose row i is old row index[i] (index (N',) long)."""
        moved = {
            f.name: getattr(self, f.name).index_select(0, index)
            for f in fields(self)
            if isinstance(getattr(self, f.name), torch.Tensor)
        }
        return replace(self, **moved)


@dataclass
class DecoderOutput:
    states: torch.Tensor  # (B, T, d) s_j
    context: torch.Tensor  # (B, T, d) c_j
    attention: torch.Tensor  # (B, T, L) alpha_j, zero on padding
    hidden: torch.Tensor  # the next DecoderState.hidden: (B, d) the last s_j, or (B, t + T, e)


class AdditiveAttention(nn.Module):
    """Bahdanau attention (part of eq. 9)."""

    def __init__(self, size: int):
        super().__init__()
        self.query = nn.Linear(size, size)
        self.key = nn.Linear(size, size, bias=False)
        self.v = nn.Linear(size, 1, bias=False)

    def forward(
        self,
        states: torch.Tensor,
        keys: torch.Tensor,
        memory: torch.Tensor,
        mask: torch.Tensor,
        bias: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """states (B, T, d), keys = W_h memory (B, L, d), memory (B, L, d), mask (B, L),
        bias (B, L) or None -> context (B, T, d), attention (B, T, L)."""
        energy = torch.tanh(self.query(states).unsqueeze(2) + keys.unsqueeze(1))  # (B, T, L, d)
        scores = self.v(energy).squeeze(-1)  # (B, T, L)
        if bias is not None:
            scores = scores + bias.unsqueeze(1)
        scores = scores.masked_fill(~mask.unsqueeze(1), float("-inf"))
        attention = torch.softmax(scores, dim=-1)
        return attention @ memory, attention


class Decoder(nn.Module):
    def __init__(self, emb_size: int, size: int):
        super().__init__()
        self.rnn = nn.GRU(emb_size, size, batch_first=True)
        self.attention = AdditiveAttention(size)

    def project_memory(self, memory: torch.Tensor) -> torch.Tensor:
        """W_h h_i for every source position: (B, L, d) -> (B, L, d)."""
        return self.attention.key(memory)

    def forward(self, inputs: torch.Tensor, state: DecoderState) -> DecoderOutput:
        """inputs (B, T, e) embedded previous words -> DecoderOutput for the T steps."""
        assert state.keys is not None
        states, last = self.rnn(inputs, state.hidden.unsqueeze(0).contiguous())  # (B, T, d)
        context, attention = self.attention(
            states, state.keys, state.memory, state.src_mask, state.src_bias
        )
        return DecoderOutput(states=states, context=context, attention=attention, hidden=last[0])

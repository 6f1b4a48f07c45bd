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
import torch.nn.functional as F
from torch import nn

# A tied step computes P rows instead of P * beam. CPU elementwise kernels compute a tensor's
# last numel % 32 values (the tail after the widest vector blocks) on a scalar path, whose
# sigmoid can differ from the vector one in the last bit; with P a multiple of 32 neither
# count leaves a tail, so the tied step gives the very numbers of the per-row step.
TIED_ALIGNMENT = 32
SOURCE_FIELDS = (
    "memory",
    "keys",
    "src_mask",
    "src_ext_ids",
    "fused",
    "copy_ids",
    "copy_weights",
    "src_bias",
    "support_ids",
    "support_slots",
)


@dataclass
class DecoderState:
    """Decoding state of N rows decoding P sources, `beam` rows per source (row r decodes
    source r // beam). What belongs to a source (`SOURCE_FIELDS`: the encoder memory, its
    projection, the copy sources) is held once per source, so following the beams'
    back-pointers moves only the per-row hidden state; with `beam` 1 (training, greedy
    search) every tensor has one row per row. `tied`: every beam of a source is still the
    same hypothesis (before the first reorder), so `hidden` and `extra` hold one row per
    source and a step decodes each source once."""

    # GRU: (N, d) s_j. Transformer: (N, t, e) the embedded inputs so far (t = 0 at the start),
    # which each step re-reads (modules.transformer).
    hidden: torch.Tensor
    memory: torch.Tensor  # (P, L, d) text encoder states h_i
    keys: torch.Tensor | None  # (P, L, d) W_h h_i, projected once per source; None: no additive
    # attention (ONE2SEQ / ONE2SET's copy attention projects its own)
    src_mask: torch.Tensor  # (P, L) bool
    src_ext_ids: torch.Tensor  # (P, L) long, extended ids for copying from X_T
    fused: torch.Tensor | None  # (P, d) H_f, added to every context vector (eq. 10); None: no H_f
    copy_ids: torch.Tensor | None  # (P, W) vocab ids of the classifier's top-k label words
    copy_weights: torch.Tensor | None  # (P, W) their copy probabilities, each row sums to one
    ext_size: int  # V_ext = vocabulary size + the batch's number of source OOV words
    extra: torch.Tensor | None = None  # (N, e) added to every decoder input (One2Set's c_n)
    # (P, L) added to the attention scores e_ji (MM-MKP's image-text gate, log g); None: none
    src_bias: torch.Tensor | None = None
    # (P, S) and (P, O + C): where each source's P can be non-zero (`CopyGenerator.support`),
    # set for inference so every step scores only there; None: steps score all of V_ext
    support_ids: torch.Tensor | None = None
    support_slots: torch.Tensor | None = None
    beam: int = 1  # rows per source
    tied: bool = False  # hidden and extra hold one row per source (all beams alike)

    def expand(self, beam: int) -> DecoderState:
        """`beam` rows per source, nothing copied. The rows stay tied (decoded once per
        source) when the source count is a multiple of `TIED_ALIGNMENT`; otherwise `hidden`
        is copied per row now."""
        if self.beam != 1:
            raise ValueError(f"expand: the state already has {self.beam} rows per source")
        sources = self.memory.size(0)
        if beam == 1 or sources % TIED_ALIGNMENT == 0:
            return replace(self, beam=beam, tied=beam > 1)
        rows = torch.arange(sources * beam, device=self.memory.device) // beam
        return replace(self._select(rows, None), beam=beam)

    def reorder(self, index: torch.Tensor) -> DecoderState:
        """New state whose row i is old row index[i] (index (N',) long). Rows that keep the
        beam layout (each group of `beam` new rows comes from one source) keep the per-source
        tensors, selecting only the sources still decoded; any other order is per row."""
        if self.beam == 1:
            return self._select(index, index)
        sources = index // self.beam  # (N',)
        groups = sources.view(-1, self.beam) if index.numel() % self.beam == 0 else None
        if groups is None or not bool((groups == groups[:, :1]).all()):
            return self.per_row().reorder(index)
        kept = groups[:, 0]  # (P',)
        unchanged = kept.numel() == self.memory.size(0) and bool(
            (kept == torch.arange(kept.numel(), device=kept.device)).all()
        )
        moved = self._select(sources if self.tied else index, None if unchanged else kept)
        return replace(moved, tied=False)

    def per_row(self) -> DecoderState:
        """The same state with every tensor holding one row per row (`beam` 1), for
        decoders that read the source per row."""
        if self.beam == 1:
            return self
        rows = torch.arange(self.memory.size(0) * self.beam, device=self.memory.device)
        sources = rows // self.beam
        moved = self._select(sources if self.tied else None, sources)
        return replace(moved, beam=1, tied=False)

    def _select(self, rows: torch.Tensor | None, sources: torch.Tensor | None) -> DecoderState:
        """Rows of the per-row tensors by `rows`, of the per-source ones by `sources` (None:
        unchanged)."""
        moved = {}
        for f in fields(self):
            value = getattr(self, f.name)
            index = sources if f.name in SOURCE_FIELDS else rows
            if isinstance(value, torch.Tensor) and index is not None:
                moved[f.name] = value.index_select(0, index)
        return replace(self, **moved)


@dataclass
class DecoderOutput:
    states: torch.Tensor  # (B, T, d) s_j
    context: torch.Tensor  # (B, T, d) c_j
    attention: torch.Tensor  # (B, T, L) alpha_j, zero on padding
    hidden: torch.Tensor  # the next DecoderState.hidden: (B, d) the last s_j, or (B, t + T, e)


# Energy values (B x T x L x d floats, 16 MB) a decoding step computes at once: a batch of 64
# posts with beam 10 and a 400-token source would otherwise hold 300 MB for one step.
ENERGY_BUDGET = 4 * 1024 * 1024


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
        beam: int = 1,
        bias: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """states (B, T, d), keys = W_h memory (B, L, d), memory (B, L, d), mask (B, L),
        bias (B, L) or None -> context (B, T, d), attention (B, T, L). With `beam` > 1 the T
        steps are `beam` rows of T / beam steps each, and each row's context is its own
        product (one product for all the rows of a source sums in another order)."""
        query = self.query(states)  # (B, T, d)
        # Without autograd a few sources at a time (the same values: the energy is elementwise,
        # v one dot product per position, the context one product per beam row): the whole
        # batch's energy is the peak of memory.
        sources = len(query)
        if not torch.is_grad_enabled():
            sources = max(1, ENERGY_BUDGET // query.shape[1:].numel() // keys.shape[1])
        pairs = zip(query.split(sources), keys.split(sources), strict=True)
        scores = _joined([self._scores(q, k) for q, k in pairs])
        if bias is not None:
            scores = scores + bias.unsqueeze(1)
        scores = scores.masked_fill(~mask.unsqueeze(1), float("-inf"))
        attention = torch.softmax(scores, dim=-1)
        if beam == 1:
            return attention @ memory, attention
        batch, steps, length = attention.shape
        rows = attention.reshape(batch * beam, steps // beam, length)
        # (B * beam, T / beam, d); the memory repeated per beam row is as large as the energy,
        # so it is made for the same few sources at a time
        pairs = zip(rows.split(sources * beam), memory.split(sources), strict=True)
        context = _joined([r @ m.repeat_interleave(beam, 0) for r, m in pairs])
        return context.view(batch, steps, -1), attention

    def _scores(self, query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        """v^T tanh(W_s s_j + W_h h_i): query (B, T, d), keys (B, L, d) -> (B, T, L). The
        tanh runs in place on the sum: the (B, T, L, d) energy is the largest tensor of a
        decoding step, and a second one costs its allocation and a pass of page faults."""
        if torch.is_grad_enabled() and not torch.is_autocast_enabled(query.device.type):
            return _AdditiveScores.apply(query, keys, self.v.weight)
        return self.v(_energy(query, keys)).squeeze(-1)


def _energy(query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    """tanh(W_s s_j + W_h h_i) for every step and position: (B, T, d), (B, L, d) -> (B, T, L, d)."""
    return (query.unsqueeze(2) + keys.unsqueeze(1)).tanh_()


class _AdditiveScores(torch.autograd.Function):
    """`AdditiveAttention._scores` for training, with a backward pass that holds two
    (B, T, L, d) tensors instead of autograd's three (the saved energy, the gradient at the
    energy, and that through tanh, made in place here). Each gradient is the same products
    and sums as autograd's, in the same order, so training is unchanged to the bit
    (tests/model/test_additive_scores.py); the peak of a training step on the longest posts
    falls by one energy-sized tensor. Under autocast, autograd's own path is taken."""

    @staticmethod
    def forward(
        ctx: torch.autograd.function.FunctionCtx,
        query: torch.Tensor,
        keys: torch.Tensor,
        weight: torch.Tensor,
    ) -> torch.Tensor:
        energy = _energy(query, keys)
        ctx.save_for_backward(energy, weight)
        return F.linear(energy, weight).squeeze(-1)

    @staticmethod
    def backward(
        ctx: torch.autograd.function.FunctionCtx, grad: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        energy, weight = ctx.saved_tensors  # type: ignore[attr-defined]
        grad_scores = grad.unsqueeze(-1)  # (B, T, L, 1)
        grad_energy = grad_scores.matmul(weight)  # as nn.Linear's backward: grad @ W
        # through tanh in place: grad * (1 - tanh^2), aten's own kernel
        torch.ops.aten.tanh_backward.grad_input(grad_energy, energy, grad_input=grad_energy)
        size = energy.shape[-1]
        grad_weight = grad_scores.reshape(-1, 1).t().mm(energy.reshape(-1, size))
        # the broadcast's backward: sums over the dimension each side was expanded along
        return grad_energy.sum(2), grad_energy.sum(1), grad_weight


def _joined(parts: list[torch.Tensor]) -> torch.Tensor:
    """The parts along dim 0; one part as it is (no copy)."""
    return parts[0] if len(parts) == 1 else torch.cat(parts)


class Decoder(nn.Module):
    def __init__(self, emb_size: int, size: int):
        super().__init__()
        self.rnn = nn.GRU(emb_size, size, batch_first=True)
        self.attention = AdditiveAttention(size)

    def project_memory(self, memory: torch.Tensor) -> torch.Tensor:
        """W_h h_i for every source position: (B, L, d) -> (B, L, d)."""
        return self.attention.key(memory)

    def forward(self, inputs: torch.Tensor, state: DecoderState) -> DecoderOutput:
        """inputs (N, T, e) embedded previous words -> DecoderOutput for the T steps; the N
        rows attend over their source's memory (`state.beam` rows per source)."""
        assert state.keys is not None and not state.tied
        states, last = self.rnn(inputs, state.hidden.unsqueeze(0).contiguous())  # (N, T, d)
        rows, steps, size = states.shape
        # the beams of a source as more query steps over its memory: (P, beam * T, d)
        folded = states.reshape(-1, state.beam * steps, size)
        context, attention = self.attention(
            folded, state.keys, state.memory, state.src_mask, state.beam, state.src_bias
        )
        return DecoderOutput(
            states=states,
            context=context.view(rows, steps, size),
            attention=attention.view(rows, steps, -1),
            hidden=last[0],
        )

"""M3H-ATT(TF)'s text encoder and decoder: torch's Transformer layers with a copy attention.

    encoder:  x_i = LayerNorm(W_e (e(x_i) + t(x_i)) + PE(i)),  H_T = TransformerEncoder(x)
              M_T = masked max-pool of H_T (as the GRU encoder's)
    decoder:  s_j = TransformerDecoder(LayerNorm(W_e e(y_<=j) + PE), H_T), causal
              alpha_j, c_j = additive attention of s_j over H_T (the copy attention, eq. 9's)

They plug into the pointer-generator (`PointerDecoding`) as the GRU ones do, with one
difference in what the decoder's state carries: a Transformer has no recurrent state, so its
`hidden` is the embedded prefix y_<j (N, t, e), empty before the first step, and each step
re-runs the layers over the prefix plus the new word (keyphrases are a few words long). Teacher
forcing runs the whole target in one call; both give the same numbers.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from mmkp.data.layout import NUM_TYPES
from mmkp.data.vocab import PAD_ID
from mmkp.model.modules.decoder import AdditiveAttention, DecoderOutput, DecoderState
from mmkp.model.modules.text_encoder import TextEncoding, masked_max

FFN_FACTOR = 2  # feed-forward width = 2 d (short posts, a CPU budget)


def positions(length: int, size: int, *, device: torch.device) -> torch.Tensor:
    """The sinusoidal position encodings PE (length, size) of Vaswani et al. (2017)."""
    position = torch.arange(length, device=device, dtype=torch.float32)[:, None]  # (T, 1)
    rate = torch.exp(
        torch.arange(0, size, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / size)
    )  # (ceil(size / 2),)
    table = torch.zeros(length, size, device=device)
    table[:, 0::2] = torch.sin(position * rate)
    table[:, 1::2] = torch.cos(position * rate[: size // 2])
    return table


class InputLayer(nn.Module):
    """Embedded words (B, T, e) -> Dropout(LayerNorm(W_e x + PE)) (B, T, d)."""

    def __init__(self, emb_size: int, size: int, dropout: float):
        super().__init__()
        self.project = nn.Linear(emb_size, size)
        self.norm = nn.LayerNorm(size)
        self.dropout = nn.Dropout(dropout)

    def forward(self, embedded: torch.Tensor) -> torch.Tensor:
        projected = self.project(embedded)
        table = positions(embedded.size(1), projected.size(-1), device=embedded.device)
        return self.dropout(self.norm(projected + table))


def layer_options(size: int, num_heads: int, dropout: float) -> dict[str, object]:
    return {
        "d_model": size,
        "nhead": num_heads,
        "dim_feedforward": FFN_FACTOR * size,
        "dropout": dropout,
        "batch_first": True,
    }


class TransformerTextEncoder(nn.Module):
    """The Transformer counterpart of `TextEncoder`: same tables, same `TextEncoding`."""

    def __init__(
        self,
        vocab_size: int,
        emb_size: int,
        size: int,
        num_heads: int,
        dropout: float,
        layers: int,
    ):
        super().__init__()
        self.emb_size = emb_size
        self.embedding = nn.Embedding(vocab_size, emb_size, padding_idx=PAD_ID)
        self.type_embedding = nn.Embedding(NUM_TYPES, emb_size)
        self.input = InputLayer(emb_size, size, dropout)
        layer = nn.TransformerEncoderLayer(**layer_options(size, num_heads, dropout))
        self.layers = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)

    def forward(self, ids: torch.Tensor, types: torch.Tensor, mask: torch.Tensor) -> TextEncoding:
        """ids, types (B, L) long, mask (B, L) bool -> TextEncoding; `final` is the decoder's
        starting state, the empty prefix (B, 0, e)."""
        x = self.input(self.embedding(ids) + self.type_embedding(types))  # (B, L, d)
        # An empty row would make every score -inf (NaN); it attends to its padding instead.
        padding = ~mask & mask.any(dim=1, keepdim=True)
        memory = self.layers(x, src_key_padding_mask=padding) * mask.unsqueeze(-1)  # (B, L, d)
        empty = memory.new_zeros(ids.size(0), 0, self.emb_size)
        return TextEncoding(memory=memory, pooled=masked_max(memory, mask), final=empty)


class TransformerDecoder(nn.Module):
    """The Transformer counterpart of `Decoder`: `project_memory` and `forward(inputs, state)`."""

    def __init__(self, emb_size: int, size: int, num_heads: int, dropout: float, layers: int):
        super().__init__()
        self.input = InputLayer(emb_size, size, dropout)
        layer = nn.TransformerDecoderLayer(**layer_options(size, num_heads, dropout))
        self.layers = nn.TransformerDecoder(layer, layers)
        self.attention = AdditiveAttention(size)  # the copy attention

    def project_memory(self, memory: torch.Tensor) -> torch.Tensor:
        """W_h h_i for every source position: (B, L, d) -> (B, L, d)."""
        return self.attention.key(memory)

    def forward(self, inputs: torch.Tensor, state: DecoderState) -> DecoderOutput:
        """inputs (B, T, e) embedded next words after the prefix in `state.hidden` (B, t, e)
        -> DecoderOutput for the T new steps, whose `hidden` is the longer prefix."""
        prefix = torch.cat([state.hidden, inputs], dim=1)  # (B, t + T, e)
        steps, new = prefix.size(1), inputs.size(1)
        causal = nn.Transformer.generate_square_subsequent_mask(steps, device=inputs.device)
        states = self.layers(
            self.input(prefix),
            state.memory,
            tgt_mask=causal,
            tgt_is_causal=True,
            memory_key_padding_mask=~state.src_mask,
        )[:, steps - new :]  # (B, T, d)
        context, attention = self.attention(states, state.keys, state.memory, state.src_mask)
        return DecoderOutput(states=states, context=context, attention=attention, hidden=prefix)

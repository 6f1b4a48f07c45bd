"""Text sub-encoder (eq. 1): X_T = X_S <seg> X_O <seg> X_E -> Bi-GRU states and M_T.

Each token's input is its word embedding plus the embedding of its segment type (post, OCR
or visual entity), so the GRU knows which source a word came from. M_T is the masked max-pool
of the Bi-GRU states over the real tokens. The same encoder also encodes the gold keyphrase
for the region-text correlation target A_gt (eq. 17).

While autograd records on CPU in float32 the Bi-GRU runs through `packed_bigru`, which gives
nn.GRU's outputs and gradients bit for bit with a backward about twice as fast; without
gradients (prediction) or elsewhere nn.GRU runs itself, its forward being the faster one.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from mmkp.data.layout import NUM_TYPES
from mmkp.data.vocab import PAD_ID
from mmkp.model.modules.packed_gru import packed_bigru


@dataclass
class TextEncoding:
    memory: torch.Tensor  # (B, L, d) Bi-GRU states H_T, zero on padding
    pooled: torch.Tensor  # (B, d) M_T, masked max-pool of `memory` (zero for an empty row)
    final: torch.Tensor  # (B, d) last forward state ; last backward state (decoder init)


def masked_max(states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """states (B, L, d), mask (B, L) bool -> (B, d) max over real positions; 0 if none."""
    filled = states.masked_fill(~mask.unsqueeze(-1), float("-inf"))
    pooled = filled.max(dim=1).values  # (B, d)
    return torch.where(mask.any(dim=1, keepdim=True), pooled, torch.zeros_like(pooled))


class TextEncoder(nn.Module):
    def __init__(
        self, vocab_size: int, emb_size: int, hidden_size: int, dropout: float, layers: int = 1
    ):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, emb_size, padding_idx=PAD_ID)
        self.type_embedding = nn.Embedding(NUM_TYPES, emb_size)
        self.dropout = nn.Dropout(dropout)
        self.rnn = nn.GRU(
            emb_size,
            hidden_size,
            num_layers=layers,
            batch_first=True,
            bidirectional=True,
            dropout=dropout if layers > 1 else 0.0,  # between layers, as the public code
        )

    def forward(self, ids: torch.Tensor, types: torch.Tensor, mask: torch.Tensor) -> TextEncoding:
        """ids, types (B, L) long, mask (B, L) bool (True on real tokens) -> TextEncoding."""
        embedded = self.dropout(self.embedding(ids) + self.type_embedding(types))  # (B, L, e)
        # Packing keeps padding out of both directions; empty rows run on one pad token
        # and are then masked out (the pooled vector of an empty row is zero).
        lengths = mask.sum(dim=1).clamp_min(1).cpu()
        packed = pack_padded_sequence(embedded, lengths, batch_first=True, enforce_sorted=False)
        output, last = self._run_rnn(packed)  # last: (2 * layers, B, H)
        memory, _ = pad_packed_sequence(output, batch_first=True, total_length=ids.size(1))
        memory = memory * mask.unsqueeze(-1)  # (B, L, d)
        # The top layer's last forward and backward states: (B, d).
        final = torch.cat([last[-2], last[-1]], dim=-1) * mask.any(dim=1, keepdim=True)
        return TextEncoding(memory=memory, pooled=masked_max(memory, mask), final=final)

    def _run_rnn(self, packed: PackedSequence) -> tuple[PackedSequence, torch.Tensor]:
        """nn.GRU's results; through `packed_bigru` where autograd records its CPU fp32 path."""
        data = packed.data
        recorded = torch.is_grad_enabled() and (
            data.requires_grad or any(p.requires_grad for p in self.rnn.parameters())
        )
        own = (
            recorded
            and data.device.type == "cpu"
            and data.dtype == torch.float32
            and not torch.is_autocast_enabled("cpu")
        )
        return packed_bigru(self.rnn, packed) if own else self.rnn(packed)

"""Multi-head cross-attention of one query vector over a set of keys (used by eq. 3 and eq. 6).

Both the image-text matcher and the keyphrase classifier let the text summary M_T attend over
image regions. A row whose key set is empty (a post without an image) gets a zero context
instead of attending over padding, so no garbage leaks from image-less rows.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class CrossAttention(nn.Module):
    """MultiHead(q, K, V) with h heads of width d/h, scaled dot-product scores."""

    def __init__(self, size: int, num_heads: int):
        super().__init__()
        self.num_heads = num_heads
        self.query = nn.Linear(size, size)
        self.key = nn.Linear(size, size)
        self.value = nn.Linear(size, size)
        self.out = nn.Linear(size, size)

    def forward(
        self, query: torch.Tensor, keys: torch.Tensor, key_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """query (B, d), keys (B, R, d), key_mask (B, R) bool -> context (B, d), weights (B, h, R).

        Masked keys get zero weight; rows without any key get zero weights and zero context.
        """
        batch, regions, size = keys.shape
        heads, width = self.num_heads, size // self.num_heads
        q = self.query(query).view(batch, heads, 1, width)  # (B, h, 1, d/h)
        k = self.key(keys).view(batch, regions, heads, width).transpose(1, 2)  # (B, h, R, d/h)
        v = self.value(keys).view(batch, regions, heads, width).transpose(1, 2)  # (B, h, R, d/h)
        scores = (q @ k.transpose(-1, -2)).squeeze(2) / math.sqrt(width)  # (B, h, R)
        has_key = key_mask.any(dim=-1)  # (B,)
        # Rows without keys attend uniformly (avoids a NaN softmax), then are zeroed below.
        visible = key_mask | ~has_key[:, None]  # (B, R)
        scores = scores.masked_fill(~visible[:, None, :], float("-inf"))
        weights = torch.softmax(scores, dim=-1) * has_key[:, None, None]  # (B, h, R)
        context = (weights.unsqueeze(2) @ v).squeeze(2).reshape(batch, size)  # (B, d)
        return self.out(context) * has_key[:, None], weights


class AttentionBlock(nn.Module):
    """LayerNorm(q + Dropout(MultiHead(q, K, K))): the query-side half of a Transformer layer."""

    def __init__(self, size: int, num_heads: int, dropout: float):
        super().__init__()
        self.attention = CrossAttention(size, num_heads)
        self.dropout = nn.Dropout(dropout)
        self.norm = nn.LayerNorm(size)

    def forward(
        self, query: torch.Tensor, keys: torch.Tensor, key_mask: torch.Tensor
    ) -> torch.Tensor:
        """query (B, d), keys (B, R, d), key_mask (B, R) -> (B, d)."""
        context, _ = self.attention(query, keys, key_mask)
        return self.norm(query + self.dropout(context))

"""Pooling a set of vectors (tokens, image regions) into one: the masked mean, and additive
attention guided by another vector.

    mean:     m = sum_i mask_i h_i / sum_i mask_i
    guided:   e_i = v^T tanh(W_g g + W_k h_i + b),  a = softmax over the real items,
              c = sum_i a_i h_i

(`masked_max`, M_T's pooling, is in text_encoder.py.) A row without any real item (a post
without an image, an empty text) pools to zero, with zero weights, instead of a NaN softmax.
"""

from __future__ import annotations

import torch
from torch import nn

from mmkp.model.modules.decoder import AdditiveAttention
from mmkp.model.modules.embeddings import INIT_RANGE


def masked_mean(states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """states (B, N, d), mask (B, N) bool -> (B, d) mean over real positions; 0 if none."""
    weights = mask.to(states.dtype).unsqueeze(-1)  # (B, N, 1)
    return (states * weights).sum(dim=1) / weights.sum(dim=1).clamp_min(1.0)


def learned_query(size: int) -> nn.Parameter:
    """A learned guide q (size,) for `GuidedAttention` where no input guides the pooling;
    not zero, so W_g q has a gradient at once."""
    return nn.Parameter(torch.empty(size).uniform_(-INIT_RANGE, INIT_RANGE))


class GuidedAttention(nn.Module):
    """Bahdanau attention of one guide vector over a set (the decoder's `AdditiveAttention`
    with a single query step)."""

    def __init__(self, size: int):
        super().__init__()
        self.attention = AdditiveAttention(size)

    def forward(
        self, guide: torch.Tensor, items: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """guide (B, d), items (B, N, d), mask (B, N) bool -> context (B, d), weights (B, N)."""
        has_item = mask.any(dim=1, keepdim=True)  # (B, 1)
        visible = mask | ~has_item  # empty rows attend uniformly, then are zeroed
        keys = self.attention.key(items)  # (B, N, d)
        context, weights = self.attention(guide.unsqueeze(1), keys, items, visible)
        keep = has_item.to(items.dtype)
        return context[:, 0] * keep, weights[:, 0] * keep

"""Keyphrase classifier (eq. 6-8) and L_cla (eq. 18): fuse text with the filtered image.

    Z   = LayerNorm(M_T + MultiHead(M_T, H_I', H_I'))
    H_f = LayerNorm(Z + FFN(Z))                                    (eq. 7)
    p   = softmax(W_2 ReLU(W_1 H_f + b_1) + b_2)                   (eq. 8)

H_f also enters every decoding step (c_j + H_f, eq. 10). Without an image (a text-only model
or an image-less post) the attention context is zero, so H_f is computed from M_T alone; a
text-only model has no attention block at all (Z = M_T).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mmkp.data.batch import IGNORE_LABEL
from mmkp.model.modules.attention import AttentionBlock


class KeyphraseClassifier(nn.Module):
    def __init__(
        self, size: int, num_labels: int, num_heads: int, dropout: float, *, use_image: bool
    ):
        super().__init__()
        self.block = AttentionBlock(size, num_heads, dropout) if use_image else None
        self.ffn = nn.Sequential(nn.Linear(size, 2 * size), nn.ReLU(), nn.Linear(2 * size, size))
        self.dropout = nn.Dropout(dropout)
        self.norm = nn.LayerNorm(size)
        self.mlp = nn.Sequential(
            nn.Linear(size, size), nn.ReLU(), nn.Dropout(dropout), nn.Linear(size, num_labels)
        )

    def fuse(
        self,
        text: torch.Tensor,
        regions: torch.Tensor | None = None,
        region_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """H_f (eq. 6-7): M_T (B, d), H_I' (B, R, d) and its mask (B, R), or None (no image in
        the batch) -> (B, d)."""
        if self.block is None:
            z = text  # text-only model
        elif regions is None or region_mask is None:  # same as a row without an image
            empty = text.new_zeros(text.size(0), 1, text.size(1))
            z = self.block(text, empty, empty.new_zeros(text.size(0), 1, dtype=torch.bool))
        else:
            z = self.block(text, regions, region_mask)  # (B, d)
        return self.norm(z + self.dropout(self.ffn(z)))

    def forward(self, fused: torch.Tensor) -> torch.Tensor:
        """H_f (B, d) -> label logits (B, num_labels) (eq. 8 before the softmax)."""
        return self.mlp(fused)


def classification_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """L_cla (eq. 18): mean cross-entropy over rows whose keyphrase is a label."""
    if not (labels != IGNORE_LABEL).any():
        return logits.sum() * 0.0
    return F.cross_entropy(logits, labels, ignore_index=IGNORE_LABEL)

"""Region-text correlation (eq. 4-5) and L_irtm (eq. 17): the fine-grained noise filter.

    A    = FFN( (M_T W_q) (H_I W_k)^T / sqrt(d) + J * s_c )      (B, R), J = ones(R)
    H_I' = sigmoid(A) (.) H_I                                      (B, R, d)

The FFN acts on each score alone (1 -> SCORE_FFN_WIDTH -> 1, ReLU), as in the public code.
L_irtm is the MSE between A and A_gt, the same computation with the encoded gold keyphrase
M_Y in place of M_T; A_gt is a detached target, so the text side learns to score regions as
the gold keyphrase would.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

SCORE_FFN_WIDTH = 8


class RegionFilter(nn.Module):
    def __init__(self, size: int):
        super().__init__()
        self.size = size
        self.text = nn.Linear(size, size)
        self.region = nn.Linear(size, size)
        self.ffn = nn.Sequential(
            nn.Linear(1, SCORE_FFN_WIDTH), nn.ReLU(), nn.Linear(SCORE_FFN_WIDTH, 1)
        )

    def scores(
        self, text: torch.Tensor, regions: torch.Tensor, match: torch.Tensor | None
    ) -> torch.Tensor:
        """A (eq. 4): text (B, d), regions (B, R, d), s_c (B,) or None (no J*s_c) -> (B, R)."""
        query = self.text(text).unsqueeze(-1)  # (B, d, 1)
        raw = (self.region(regions) @ query).squeeze(-1) / math.sqrt(self.size)  # (B, R)
        if match is not None:
            raw = raw + match.unsqueeze(-1)  # J * s_c: one shift for every region
        return self.ffn(raw.unsqueeze(-1)).squeeze(-1)  # (B, R)

    @staticmethod
    def gate(scores: torch.Tensor, regions: torch.Tensor) -> torch.Tensor:
        """H_I' (eq. 5): sigmoid(A) (B, R) gates each region of H_I (B, R, d)."""
        return torch.sigmoid(scores).unsqueeze(-1) * regions


def region_loss(scores: torch.Tensor, target: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """L_irtm (eq. 17): MSE(A, A_gt) over the regions of `rows` (B,) bool; A_gt is detached."""
    if not rows.any():
        return scores.sum() * 0.0
    return F.mse_loss(scores[rows], target[rows].detach())


def region_contrast_loss(
    own: torch.Tensor, other: torch.Tensor, rows: torch.Tensor
) -> torch.Tensor:
    """A contrastive region-text term (not in the paper; `region_contrast`): the best region
    of an image must score higher with the post's own text than with another post's text,
    softplus(max_r A_other - max_r A_own), averaged over `rows`. L_irtm alone lets A and A_gt
    agree by both being constant; this makes A depend on the text and peak where the text's
    content is. own, other (B, R) A; rows (B,) bool."""
    if not rows.any():
        return own.sum() * 0.0
    margin = own.max(dim=-1).values - other.max(dim=-1).values  # (B,)
    return F.softplus(-margin[rows]).mean()

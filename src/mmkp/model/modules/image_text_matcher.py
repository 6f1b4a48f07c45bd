"""Image-text matching (eq. 3) and its loss L_itm (eq. 16): the coarse-grained noise filter.

    s_c = sigmoid(FC(MultiHead(M_T, H_I, H_I)))                     (eq. 3, as the paper writes it)
    s_c = sigmoid(FC(LayerNorm(M_T + MultiHead(M_T, H_I, H_I))))    (option `residual`, as the
                                                                     public code's attention layer)

s_c in (0, 1) says how well the whole image matches the text; it shifts every region score
of the region filter (eq. 4). L_itm is the binary cross-entropy of s_c against relevance
labels (TRC-style "image adds meaning" pairs), on the rows that have a label and an image.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mmkp.model.modules.attention import AttentionBlock, CrossAttention


class ImageTextMatcher(nn.Module):
    """`interaction` (beyond the paper) adds w_p^T (M_T (.) h) to the logit: FC over h alone
    scores text and image mostly additively, which cannot tell a matching pair from two
    mismatched ones of the same kinds; the product term compares them."""

    def __init__(
        self,
        size: int,
        num_heads: int,
        dropout: float,
        *,
        residual: bool = True,
        interaction: bool = False,
    ):
        super().__init__()
        self.block = AttentionBlock(size, num_heads, dropout) if residual else None
        self.attention = None if residual else CrossAttention(size, num_heads)
        self.score = nn.Linear(size, 1)
        self.product = nn.Linear(size, 1, bias=False) if interaction else None

    def forward(
        self, text: torch.Tensor, regions: torch.Tensor, region_mask: torch.Tensor
    ) -> torch.Tensor:
        """M_T (B, d), H_I (B, R, d), region mask (B, R) -> matching logits (B,); s_c = sigmoid."""
        if self.block is not None:
            joined = self.block(text, regions, region_mask)  # (B, d)
        else:
            assert self.attention is not None
            joined, _ = self.attention(text, regions, region_mask)
        logits = self.score(joined)
        if self.product is not None:
            logits = logits + self.product(text * joined)
        return logits.squeeze(-1)


def matching_loss(
    logits: torch.Tensor, labels: torch.Tensor, has_image: torch.Tensor
) -> torch.Tensor:
    """L_itm (eq. 16): mean BCE over rows with a 0/1 label (not nan) and an image.

    logits (B,), labels (B,) float with nan for unknown, has_image (B,) bool -> scalar
    (0, still attached to the graph, when no row qualifies).
    """
    rows = ~torch.isnan(labels) & has_image
    if not rows.any():
        return logits.sum() * 0.0
    return F.binary_cross_entropy_with_logits(logits[rows], labels[rows].float())

"""Beyond the paper (issue 24): the noise filter also gates the image's words in X_T.

The paper's noise filter (eq. 3-5) gates only the grid H_I, but the OCR text X_O and the
visual entity names X_E of an unrelated image enter X_T, where the decoder attends to them and
copies them. This gate weighs those two segments by how well the image matches the post:

    "score":    g_{b,k} = s_c,b
    "learned":  g_{b,k} = sigmoid(a_k * logit(s_c,b) + w_k^T [m_{b,k} ; m_{b,S}] + c_k)

for the segments k in {OCR, entity} of row b, with m_{b,k} the masked max of H_T over segment
k's tokens and m_{b,S} over the post's own words (zero when a segment is empty); a_k = 1,
w_k = 0, c_k = 0 at the start, so the learned gate starts as s_c. A token i of segment k gets
g_{b,i} = g_{b,k}; post tokens, rows without an image (nothing to judge the words by) and
padding get g = 1. The gate then acts on the text encoder's outputs and the decoder's attention:

    H_T'  = g (.) H_T         (the memory the decoder reads; its max-pool M_T' is the
                              classifier's text summary)
    e_ji' = e_ji + log g_i    (eq. 9's attention scores: alpha_j, hence the copy distribution
                              over X_T, is multiplied by g and renormalised)

so with s_c ~ 0 an unrelated image's words neither steer the context c_j nor get copied.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from mmkp.data.layout import TYPE_ENTITY, TYPE_OCR, TYPE_POST
from mmkp.model.modules.text_encoder import masked_max

GATE_MODES = ("score", "learned")  # MMKPConfig.image_text_gate, less "none" (no gate)
GATED_TYPES = (TYPE_OCR, TYPE_ENTITY)  # the segments read from the image
SCORE_EPS = 1e-6  # keeps logit(s_c) and log g finite when s_c is exactly 0 or 1


@dataclass
class GatedText:
    """The gate's result for a batch of B rows of L tokens."""

    memory: torch.Tensor  # (B, L, d) H_T' = g (.) H_T
    pooled: torch.Tensor  # (B, d) masked max of H_T' (the classifier's text summary)
    log_gate: torch.Tensor  # (B, L) log g_i, 0 on post tokens, padding and image-less rows


class SegmentGate(nn.Module):
    """g per row and image segment (module docstring); `learned` adds the per-segment
    parameters a_k, w_k, c_k, "score" has none."""

    def __init__(self, size: int, mode: str):
        super().__init__()
        if mode not in GATE_MODES:
            raise ValueError(f"image_text_gate must be one of {GATE_MODES}, got {mode!r}")
        self.mode = mode
        self.learned = mode == "learned"
        if self.learned:
            n = len(GATED_TYPES)
            self.match_weight = nn.Parameter(torch.ones(n))  # a_k
            self.summary_weight = nn.Parameter(torch.zeros(n, 2 * size))  # w_k
            self.bias = nn.Parameter(torch.zeros(n))  # c_k

    def segment_logits(
        self,
        memory: torch.Tensor,
        types: torch.Tensor,
        mask: torch.Tensor,
        match_score: torch.Tensor,
    ) -> torch.Tensor:
        """log-odds of g per gated segment: (B, L, d), (B, L), (B, L), s_c (B,) -> (B, K)."""
        match_logit = torch.logit(match_score.clamp(SCORE_EPS, 1.0 - SCORE_EPS))  # (B,)
        if not self.learned:
            return match_logit[:, None].expand(-1, len(GATED_TYPES))
        post = masked_max(memory, mask & (types == TYPE_POST))  # (B, d) m_S
        summaries = torch.stack(
            [masked_max(memory, mask & (types == kind)) for kind in GATED_TYPES], dim=1
        )  # (B, K, d) m_k
        features = torch.cat([summaries, post[:, None].expand_as(summaries)], dim=-1)
        learned = (features * self.summary_weight).sum(-1)  # (B, K)
        return self.match_weight * match_logit[:, None] + learned + self.bias

    def forward(
        self,
        memory: torch.Tensor,
        types: torch.Tensor,
        mask: torch.Tensor,
        match_score: torch.Tensor,
        has_image: torch.Tensor,
    ) -> GatedText:
        """H_T (B, L, d), segment types (B, L), mask (B, L) bool, s_c (B,), has_image (B,)
        bool -> GatedText."""
        log_segment = F.logsigmoid(self.segment_logits(memory, types, mask, match_score))
        log_gate = torch.zeros_like(mask, dtype=memory.dtype)  # (B, L)
        for k, kind in enumerate(GATED_TYPES):
            log_gate = torch.where(types == kind, log_segment[:, k : k + 1], log_gate)
        log_gate = log_gate * (mask & has_image[:, None])  # post words, padding, no image: 0
        gated = memory * log_gate.exp().unsqueeze(-1)  # (B, L, d)
        return GatedText(memory=gated, pooled=masked_max(gated, mask), log_gate=log_gate)

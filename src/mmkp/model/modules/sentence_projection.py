"""Beyond the paper (issue 24): a frozen sentence embedding of the post added to H_f.

    H_f' = H_f + W_s e + b_s        e = MiniLM(post) (B, 384), unit length, frozen

e is the all-MiniLM-L6-v2 embedding of the post's text X_S or of its whole source X_T
(`MMKPConfig.sentence_features`), computed outside the model (training embeds each split once,
the predictor each batch of posts) and carried by the batch (`Batch.sentence`), so no gradient
reaches MiniLM. W_s and b_s start at zero: training starts from the paper's model exactly, and
the classifier (eq. 8) and every decoding step (x_j = [e(y); s_j; c_j + H_f'], eq. 10) read the
sum.
"""

from __future__ import annotations

import torch
from torch import nn

from mmkp.features.sentence_encoder import DIM


class SentenceProjection(nn.Module):
    def __init__(self, size: int, sentence_dim: int = DIM):
        super().__init__()
        self.linear = nn.Linear(sentence_dim, size)
        nn.init.zeros_(self.linear.weight)  # W_s = 0, b_s = 0: H_f' = H_f at the start
        nn.init.zeros_(self.linear.bias)

    def forward(self, fused: torch.Tensor, sentence: torch.Tensor | None) -> torch.Tensor:
        """H_f (B, d) and e (B, 384) -> H_f + W_s e + b_s (B, d)."""
        if sentence is None:
            raise ValueError(
                "the model adds the posts' MiniLM sentence embeddings to H_f "
                "(model.sentence_features), but the batch has none: build it with the posts' "
                "embeddings (collate sentences=, Processor.batches sentences=)"
            )
        return fused + self.linear(sentence.to(fused.dtype))  # (B, d)

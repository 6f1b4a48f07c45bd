"""CO-ATT: the co-attention network for hashtag recommendation (Zhang et al., IJCAI 2017).

    X_T --TextEncoder--> H_T (B, L, d);  grid --ImageEncoder--> H_I (B, 49, d)   (eq. 1-2)
    t   = masked mean of H_T                                    the tweet's summary
    v^  = sum_r a_r h_r,  a = softmax_r(v_I^T tanh(W t + W_I h_r))   text-guided image attention
    t^  = sum_i b_i h_i,  b = softmax_i(v_T^T tanh(W v^ + W_T h_i))  image-guided text attention
    f   = W_f [v^ ; t^] + b_f
    f --Dropout--Linear--> label logits

One co-attention layer, the two contexts joined by a linear layer, as in the CMKP code's
`CoAttention` (input type text_img). Without an image v^ = 0, so the text attention is
guided by nothing but its bias: the model degrades to attentive pooling of the text.
"""

from __future__ import annotations

import torch
from torch import nn

from mmkp.data.batch import Batch
from mmkp.model.classifiers.base import TextImageClassifier
from mmkp.model.classifiers.config import CoAttConfig
from mmkp.model.modules.embeddings import PretrainedEmbeddings
from mmkp.model.modules.pooling import GuidedAttention, masked_mean
from mmkp.model.outputs import Encoded


class CoAttention(nn.Module):
    """Text-guided attention over the regions, then image-guided attention over the tokens."""

    def __init__(self, size: int):
        super().__init__()
        self.image_attention = GuidedAttention(size)
        self.text_attention = GuidedAttention(size)
        self.join = nn.Linear(2 * size, size)

    def forward(
        self,
        tokens: torch.Tensor,
        token_mask: torch.Tensor,
        regions: torch.Tensor,
        region_mask: torch.Tensor,
    ) -> torch.Tensor:
        """H_T (B, L, d), its mask (B, L), H_I (B, R, d), its mask (B, R) -> f (B, d)."""
        summary = masked_mean(tokens, token_mask)  # (B, d) t
        image, _ = self.image_attention(summary, regions, region_mask)  # (B, d) v^
        text, _ = self.text_attention(image, tokens, token_mask)  # (B, d) t^
        return self.join(torch.cat([image, text], dim=-1))


class CoAttentionClassifier(TextImageClassifier):
    def __init__(
        self,
        config: CoAttConfig,
        *,
        vocab_size: int,
        num_labels: int,
        embeddings: PretrainedEmbeddings | None = None,
    ) -> None:
        super().__init__(
            config, vocab_size=vocab_size, num_labels=num_labels, embeddings=embeddings
        )
        self.co_attention = CoAttention(config.size)

    def encode(self, batch: Batch) -> Encoded:
        text, image = self.encode_inputs(batch)
        fused = self.co_attention(text.memory, batch.src_mask, image.regions, image.mask)
        return self.classify_fused(batch, text, image, fused)

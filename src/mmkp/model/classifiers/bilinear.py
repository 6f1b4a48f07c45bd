"""BAN: the bilinear attention network (Kim, Jun and Zhang, NeurIPS 2018) between the
tokens and the image regions.

With X = H_T (L tokens) and Y = H_I (R regions), both (., d), and rank K:

    A_g  = softmax over all (i, r) of p_g^T (ReLU(U^T x_i) (.) ReLU(V^T y_r))
                                                 one map per glimpse g      (paper eq. 9-10)
    f_g' = sum_i sum_r A_g[i, r] ReLU(U_g'^T x_i) (.) ReLU(V_g'^T y_r)   (K,)  (eq. 6)
    f_g  = P_g f_g'                                                      (d,)  (eq. 7)
    x_i <- x_i + f_g  for every token, glimpse after glimpse   residual learning (eq. 12)
    h    = sum over the real tokens of x_i --Dropout--Linear--> label logits

As in the paper's code the maps are computed once, from the encoder's H_T, and the glimpses
pool the residually updated tokens. Padded tokens and the regions of image-less rows get
zero weight; a row without an image has all-zero maps, so h is the sum of its H_T.
"""

from __future__ import annotations

import torch
from torch import nn

from mmkp.data.batch import Batch
from mmkp.model.classifiers.base import TextImageClassifier
from mmkp.model.classifiers.config import BanConfig
from mmkp.model.modules.embeddings import PretrainedEmbeddings
from mmkp.model.outputs import Encoded


class BilinearAttentionMap(nn.Module):
    """A_g (eq. 9-10): low-rank bilinear scores of every token-region pair, one softmax over
    all pairs of a row per glimpse."""

    def __init__(self, size: int, rank: int, glimpses: int, dropout: float):
        super().__init__()
        self.text = nn.Linear(size, rank)
        self.image = nn.Linear(size, rank)
        self.dropout = nn.Dropout(dropout)
        # p_g; no bias b_g, which one softmax over all pairs would cancel
        self.weights = nn.Parameter(torch.randn(glimpses, rank) / rank**0.5)

    def forward(
        self,
        tokens: torch.Tensor,
        token_mask: torch.Tensor,
        regions: torch.Tensor,
        region_mask: torch.Tensor,
    ) -> torch.Tensor:
        """X (B, L, d), mask (B, L), Y (B, R, d), mask (B, R) -> A (B, G, L, R)."""
        x = self.dropout(torch.relu(self.text(tokens)))  # (B, L, K)
        y = torch.relu(self.image(regions))  # (B, R, K)
        logits = torch.einsum("blk,gk,brk->bglr", x, self.weights, y)  # (B, G, L, R)
        pairs = token_mask[:, :, None] & region_mask[:, None, :]  # (B, L, R)
        has_pair = pairs.flatten(1).any(dim=1)  # (B,)
        visible = pairs | ~has_pair[:, None, None]  # rows without pairs attend uniformly...
        logits = logits.masked_fill(~visible[:, None], float("-inf"))
        maps = torch.softmax(logits.flatten(2), dim=-1).view_as(logits)
        return maps * has_pair[:, None, None, None]  # ...and are zeroed


class BilinearPooling(nn.Module):
    """f_g = P_g f_g' (eq. 6-7): the attended low-rank bilinear features of one glimpse."""

    def __init__(self, size: int, rank: int, dropout: float):
        super().__init__()
        self.text = nn.Linear(size, rank)
        self.image = nn.Linear(size, rank)
        self.dropout = nn.Dropout(dropout)
        # P has no bias, so a glimpse without any pair to attend adds exactly nothing
        self.project = nn.Linear(rank, size, bias=False)

    def forward(self, tokens: torch.Tensor, regions: torch.Tensor, attention: torch.Tensor):
        """X (B, L, d), Y (B, R, d), A_g (B, L, R) -> f_g (B, d)."""
        x = self.dropout(torch.relu(self.text(tokens)))  # (B, L, K)
        y = torch.relu(self.image(regions))  # (B, R, K)
        joint = torch.einsum("blk,blr,brk->bk", x, attention, y)  # (B, K) f_g'
        return self.project(joint)


class BilinearAttentionClassifier(TextImageClassifier):
    def __init__(
        self,
        config: BanConfig,
        *,
        vocab_size: int,
        num_labels: int,
        embeddings: PretrainedEmbeddings | None = None,
    ) -> None:
        super().__init__(
            config, vocab_size=vocab_size, num_labels=num_labels, embeddings=embeddings
        )
        d, c = config.size, config
        self.attention = BilinearAttentionMap(d, c.rank, c.glimpses, c.dropout)
        self.glimpses = nn.ModuleList(
            [BilinearPooling(d, c.rank, c.dropout) for _ in range(c.glimpses)]
        )

    def encode(self, batch: Batch) -> Encoded:
        text, image = self.encode_inputs(batch)
        maps = self.attention(text.memory, batch.src_mask, image.regions, image.mask)
        tokens = text.memory  # (B, L, d)
        for g, pooling in enumerate(self.glimpses):  # residual learning of attention (eq. 12)
            tokens = tokens + pooling(tokens, image.regions, maps[:, g]).unsqueeze(1)
        summed = (tokens * batch.src_mask.unsqueeze(-1)).sum(dim=1)  # (B, d)
        return self.classify_fused(batch, text, image, summed)

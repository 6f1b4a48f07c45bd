"""BUTD (Anderson et al., CVPR 2018, "Bottom-Up and Top-Down Attention for Image Captioning
and Visual Question Answering") as an image-only keyphrase classifier:

    bottom-up:  regions V (B, N, C) --ImageEncoder--> H (B, N, d)   (detector regions)
    top-down:   a = softmax_i(w^T tanh(W_q q + W_k h_i)), v = sum_i a_i h_i
                with q a learned task vector (no question: the task is fixed)
    output:     f(v) = tanh(W v + b) * sigmoid(W' v + b')            (BUTD's gated tanh)
                f(v) --Dropout--Linear--> label logits

Zero rows are padding (an image with fewer regions than the store's N) and get no
attention; a post without an image attends to nothing, so its scores are the learned prior.
"""

from __future__ import annotations

import torch
from torch import nn

from mmkp.data.batch import Batch
from mmkp.model.butd.config import ButdConfig
from mmkp.model.classifiers.base import ImageClassifier, encode_image
from mmkp.model.modules.embeddings import PretrainedEmbeddings
from mmkp.model.modules.pooling import GuidedAttention, learned_query
from mmkp.model.modules.regions import region_mask
from mmkp.model.outputs import Encoded


class GatedTanh(nn.Module):
    """BUTD's non-linear layer: y = tanh(W x + b) * sigmoid(W' x + b')."""

    def __init__(self, size: int):
        super().__init__()
        self.value = nn.Linear(size, size)
        self.gate = nn.Linear(size, size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.value(x)) * torch.sigmoid(self.gate(x))


class BottomUpTopDown(ImageClassifier):
    def __init__(
        self,
        config: ButdConfig,
        *,
        vocab_size: int,
        num_labels: int,
        embeddings: PretrainedEmbeddings | None = None,
    ) -> None:
        super().__init__(
            config, vocab_size=vocab_size, num_labels=num_labels, embeddings=embeddings
        )
        d = config.size
        self.attention = GuidedAttention(d)
        self.task_query = learned_query(d)  # q: the top-down signal
        self.output = GatedTanh(d)

    def encode(self, batch: Batch) -> Encoded:
        image = encode_image(self.image_encoder, batch)  # (B, N, d), zero without an image
        mask = image.mask  # (B, N)
        if batch.grid is not None:
            mask = region_mask(batch.grid, batch.has_image)  # padding rows left out
        query = self.task_query.expand(batch.size, -1)  # (B, d)
        attended, _ = self.attention(query, image.regions, mask)  # (B, d)
        return Encoded(
            label_logits=self.classify(self.output(attended)),
            regions=image.regions,
            region_mask=mask,
        )

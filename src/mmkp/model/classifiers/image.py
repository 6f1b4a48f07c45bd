"""VGG: the image-only classifier of paper Table 1 (the CNN's 7x7 grid, no text at all).

    grid (B, 49, C) --ImageEncoder--> H_I (B, 49, d)        (eq. 2)
    h = mean | max of H_I over the regions, or attention:   a = softmax_r(v^T tanh(W q + W_k h_r))
        with a learned query q, h = sum_r a_r h_r
    h --Dropout--Linear--> label logits

The grids come from the prepared feature store, so the CNN is the store's backbone (the
package's EfficientNet-lite0 by default, or vgg16/vgg19 with the user's weights file; set
`image_dim` to its channels). A post without an image pools to zero: its scores are the
label head's bias, the label prior the model learned.
"""

from __future__ import annotations

import torch
from torch import nn

from mmkp.data.batch import Batch
from mmkp.model.classifiers.base import LabelClassifier, encode_image
from mmkp.model.classifiers.config import VggConfig
from mmkp.model.modules.embeddings import INIT_RANGE, PretrainedEmbeddings
from mmkp.model.modules.image_encoder import ImageEncoder
from mmkp.model.modules.pooling import GuidedAttention, masked_mean
from mmkp.model.modules.text_encoder import masked_max
from mmkp.model.outputs import Encoded
from mmkp.model.protocol import INPUT_GRID


class GridClassifier(LabelClassifier):
    def __init__(
        self,
        config: VggConfig,
        *,
        vocab_size: int,
        num_labels: int,
        embeddings: PretrainedEmbeddings | None = None,
    ) -> None:
        super().__init__(config, num_labels=num_labels)
        d = config.size
        self.image_encoder = ImageEncoder(config.image_dim, d, config.dropout)
        self.pool = None
        if config.pooling == "attention":
            self.pool = GuidedAttention(d)
            # q: what a region must show to count (not zero, so W q has a gradient at once)
            self.query = nn.Parameter(torch.empty(d).uniform_(-INIT_RANGE, INIT_RANGE))

    @property
    def inputs(self) -> frozenset[str]:
        return frozenset({INPUT_GRID})

    def encode(self, batch: Batch) -> Encoded:
        image = encode_image(self.image_encoder, batch)
        if self.pool is not None:
            query = self.query.expand(batch.size, -1)  # (B, d)
            pooled, _ = self.pool(query, image.regions, image.mask)
        elif self.config.pooling == "max":
            pooled = masked_max(image.regions, image.mask)
        else:
            pooled = masked_mean(image.regions, image.mask)  # (B, d)
        return Encoded(
            label_logits=self.classify(pooled), regions=image.regions, region_mask=image.mask
        )

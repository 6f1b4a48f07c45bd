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

from mmkp.data.batch import Batch
from mmkp.model.classifiers.base import ImageClassifier, encode_image
from mmkp.model.classifiers.config import VggConfig
from mmkp.model.modules.embeddings import PretrainedEmbeddings
from mmkp.model.modules.pooling import GuidedAttention, learned_query, masked_mean
from mmkp.model.modules.text_encoder import masked_max
from mmkp.model.outputs import Encoded


class GridClassifier(ImageClassifier):
    def __init__(
        self,
        config: VggConfig,
        *,
        vocab_size: int,
        num_labels: int,
        embeddings: PretrainedEmbeddings | None = None,
    ) -> None:
        super().__init__(
            config, vocab_size=vocab_size, num_labels=num_labels, embeddings=embeddings
        )
        self.pool = None
        if config.pooling == "attention":
            self.pool = GuidedAttention(config.size)
            self.query = learned_query(config.size)  # q: what a region must show to count

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

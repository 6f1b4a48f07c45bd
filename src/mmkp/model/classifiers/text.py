"""AVG and MAX: the text-only classifiers of paper Table 1.

X_T --TextEncoder--> H_T (B, L, d)                      (eq. 1: Bi-GRU over X_T)
AVG: h = masked mean of H_T;  MAX: h = masked max of H_T (MM-MKP's M_T)
h --Dropout--Linear--> label logits
"""

from __future__ import annotations

from mmkp.data.batch import Batch
from mmkp.model.classifiers.base import LabelClassifier, text_encoder
from mmkp.model.classifiers.config import AvgConfig, ClassifierConfig
from mmkp.model.modules.embeddings import PretrainedEmbeddings
from mmkp.model.modules.pooling import masked_mean
from mmkp.model.outputs import Encoded
from mmkp.model.protocol import INPUT_TEXT


class PooledTextClassifier(LabelClassifier):
    """AVG with an `AvgConfig`, MAX with a `MaxConfig`."""

    def __init__(
        self,
        config: ClassifierConfig,
        *,
        vocab_size: int,
        num_labels: int,
        embeddings: PretrainedEmbeddings | None = None,
    ) -> None:
        super().__init__(config, num_labels=num_labels)
        self.text_encoder = text_encoder(config, vocab_size, embeddings)
        self.mean = isinstance(config, AvgConfig)

    @property
    def inputs(self) -> frozenset[str]:
        return frozenset({INPUT_TEXT})

    def encode(self, batch: Batch) -> Encoded:
        text = self.text_encoder(batch.src_ids, batch.src_types, batch.src_mask)
        pooled = masked_mean(text.memory, batch.src_mask) if self.mean else text.pooled  # (B, d)
        return Encoded.of_text(text, batch.src_mask, label_logits=self.classify(pooled))

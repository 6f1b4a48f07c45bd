"""AVG and MAX: the text-only classifiers of paper Table 1.

X_T --TextEncoder--> H_T (B, L, d)                      (eq. 1: Bi-GRU over X_T)
AVG: h = masked mean of H_T;  MAX: h = masked max of H_T (MM-MKP's M_T)
h --Dropout--Linear--> label logits
"""

from __future__ import annotations

from mmkp.data.batch import Batch
from mmkp.model.classifiers.base import TextClassifier
from mmkp.model.classifiers.config import AvgConfig
from mmkp.model.modules.pooling import masked_mean
from mmkp.model.outputs import Encoded


class PooledTextClassifier(TextClassifier):
    """AVG with an `AvgConfig`, MAX with a `MaxConfig`."""

    @property
    def mean(self) -> bool:
        """AVG's masked mean; otherwise MAX's M_T, the encoder's own max pooling."""
        return isinstance(self.config, AvgConfig)

    def encode(self, batch: Batch) -> Encoded:
        text = self.encode_text(batch)
        pooled = masked_mean(text.memory, batch.src_mask) if self.mean else text.pooled  # (B, d)
        return Encoded.of_text(text, batch.src_mask, label_logits=self.classify(pooled))

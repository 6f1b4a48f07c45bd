"""M3H-ATT's multi-modality multi-head attention: the image, as grid regions and attribute
words, queries the text; the result is the classifier's input and H_f of every decoding step.

    v   = mean_r H_I,r                    the grid's regions W_I V + b_I, pooled (0: no image)
    a   = max_k W_A e(x_k) over X_A       the attribute words, pooled (0: no attributes)
    q   = v + a                           the image query; a row with neither queries with M_T
    z   = LayerNorm(q + MultiHead(q, H_T, H_T))
    H_f = LayerNorm(z + FFN(z))
    p   = softmax(MLP(H_f))               over the training keyphrases

The attention block, FFN and MLP are the package's KeyphraseClassifier with the text as its
keys (CMKP's stacked multi-head layer is the same query-side Transformer half). The attribute
words are X_T's fourth segment (mmkp.data.layout): what follows the third `<seg>`; they are
not part of the text the encoder reads and the decoder copies from.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from mmkp.data.batch import Batch
from mmkp.data.layout import ATTRIBUTE_SEGMENT
from mmkp.data.vocab import SEG_ID
from mmkp.model.modules.classifier import KeyphraseClassifier
from mmkp.model.modules.image_encoder import ImageEncoding
from mmkp.model.modules.text_encoder import masked_max


@dataclass
class SourceParts:
    text_mask: torch.Tensor  # (B, L) bool: X_S <seg> X_O <seg> X_E, a prefix of every row
    attribute_mask: torch.Tensor  # (B, L) bool: the words of X_A


def split_source(batch: Batch) -> SourceParts:
    """The text and attribute positions of X_T (a source without X_A is all text)."""
    segment = (batch.src_ids == SEG_ID).cumsum(dim=1)  # (B, L) <seg>s up to each position
    in_text = segment < ATTRIBUTE_SEGMENT
    attributes = ~in_text & (batch.src_ids != SEG_ID)
    return SourceParts(
        text_mask=batch.src_mask & in_text, attribute_mask=batch.src_mask & attributes
    )


class M3HAttention(nn.Module):
    def __init__(self, emb_size: int, size: int, num_labels: int, num_heads: int, dropout: float):
        super().__init__()
        self.attribute = nn.Linear(emb_size, size)  # W_A
        self.dropout = nn.Dropout(dropout)
        # use_image=True builds the attention block: here it attends over the text H_T.
        self.classifier = KeyphraseClassifier(size, num_labels, num_heads, dropout, use_image=True)

    def query(
        self,
        text: torch.Tensor,
        image: ImageEncoding | None,
        attributes: torch.Tensor,
        attribute_mask: torch.Tensor,
    ) -> torch.Tensor:
        """q: M_T (B, d), H_I or None (no grid), e(X_T) (B, L, e), the attribute positions
        (B, L) -> (B, d)."""
        projected = self.attribute(self.dropout(attributes))  # (B, L, d)
        query = masked_max(projected, attribute_mask)  # (B, d), 0 without attributes
        has_query = attribute_mask.any(dim=1)  # (B,)
        if image is not None:  # rows without an image have zero regions
            query = query + image.regions.mean(dim=1)
            has_query = has_query | image.mask.any(dim=1)
        return torch.where(has_query[:, None], query, text)

    def forward(
        self,
        query: torch.Tensor,
        memory: torch.Tensor,
        text_mask: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """q (B, d), H_T (B, L, d), text mask (B, L) -> H_f (B, d), label logits (B, N)."""
        fused = self.classifier.fuse(query, memory, text_mask)
        return fused, self.classifier(fused)

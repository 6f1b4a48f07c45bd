"""What family members return: encoder results (`Encoded`) and named loss terms (`Losses`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from mmkp.model.modules.text_encoder import TextEncoding


@dataclass
class Encoded:
    """A batch after a model's encoders (shapes for B rows, L tokens, R regions). The decoding
    fields are set by models with a generator, `label_logits` by models with a classifier,
    the image fields by models that read image grids (MM-MKP's noise filter)."""

    memory: torch.Tensor | None = None  # (B, L, d) text encoder states H_T
    src_mask: torch.Tensor | None = None  # (B, L) bool
    text: torch.Tensor | None = None  # (B, d) pooled text M_T (eq. 1)
    final: torch.Tensor | None = None  # (B, d) last encoder states: the decoder's s_0
    fused: torch.Tensor | None = None  # (B, d) H_f (eq. 7), added at every decoding step
    label_logits: torch.Tensor | None = None  # (B, num_labels) classifier logits (eq. 8)
    regions: torch.Tensor | None = None  # (B, R, d) H_I (eq. 2)
    region_mask: torch.Tensor | None = None  # (B, R) bool, False on rows without an image
    filtered: torch.Tensor | None = None  # (B, R, d) H_I' (eq. 5), what the classifier sees
    match_logit: torch.Tensor | None = None  # (B,) the matcher's logit (eq. 3)
    match_score: torch.Tensor | None = None  # (B,) s_c in [0, 1]; 0 on rows without an image
    region_scores: torch.Tensor | None = None  # (B, R) A (eq. 4); 0 on rows without an image
    # (B, L) log g of the image-text gate (modules.segment_gate), added to the decoder's
    # attention scores; None: no gate
    source_bias: torch.Tensor | None = None

    @classmethod
    def of_text(cls, text: TextEncoding, src_mask: torch.Tensor, **fields: Any) -> Encoded:
        """The text encoder's results (H_T, M_T, final states) and any further `fields`."""
        return cls(
            memory=text.memory, src_mask=src_mask, text=text.pooled, final=text.final, **fields
        )


class Losses(dict[str, torch.Tensor]):
    """Scalar loss terms by name (each model owns its names, e.g. MM-MKP's itm, irtm, cla,
    gen); a term that was not requested or does not apply is absent."""

    @property
    def total(self) -> torch.Tensor:
        """The sum of the present terms (eq. 15 in stage 1, eq. 19 alone in stage 2)."""
        if not self:
            raise ValueError(
                "no loss term applies: every requested term is switched off or needs an image "
                "grid the batch does not carry"
            )
        return torch.stack(list(self.values())).sum()

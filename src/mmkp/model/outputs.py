"""What the model returns: the encoder's results (`Encoded`) and the training losses (`Losses`)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

LOSS_TERMS = ("itm", "irtm", "cla", "gen")


@dataclass
class FilteredImage:
    """The image branch after the noise filter (all None without an image grid)."""

    regions: torch.Tensor | None = None  # (B, R, d) H_I (eq. 2)
    region_mask: torch.Tensor | None = None  # (B, R) bool, False on rows without an image
    filtered: torch.Tensor | None = None  # (B, R, d) H_I' (eq. 5)
    match_logit: torch.Tensor | None = None  # (B,) the matcher's logit (eq. 3)
    match_score: torch.Tensor | None = None  # (B,) s_c; 0 on rows without an image
    region_scores: torch.Tensor | None = None  # (B, R) A (eq. 4); 0 on rows without an image


@dataclass
class Encoded:
    """Everything `MMKP.encode` computes for a batch (shapes for B rows, L tokens, R regions)."""

    memory: torch.Tensor  # (B, L, d) text encoder states H_T
    src_mask: torch.Tensor  # (B, L) bool
    text: torch.Tensor  # (B, d) M_T (eq. 1)
    final: torch.Tensor  # (B, d) last Bi-GRU states: the decoder's s_0
    fused: torch.Tensor  # (B, d) H_f (eq. 6)
    label_logits: torch.Tensor  # (B, num_labels) classifier logits (eq. 7)
    regions: torch.Tensor | None = None  # (B, R, d) H_I (eq. 2); None without an image branch
    region_mask: torch.Tensor | None = None  # (B, R) bool, False on rows without an image
    filtered: torch.Tensor | None = None  # (B, R, d) H_I' (eq. 5), what the classifier sees
    match_logit: torch.Tensor | None = None  # (B,) the matcher's logit (eq. 3)
    match_score: torch.Tensor | None = None  # (B,) s_c in [0, 1]; 0 on rows without an image
    region_scores: torch.Tensor | None = None  # (B, R) A (eq. 4); 0 on rows without an image


@dataclass
class Losses:
    """Each term is a scalar, or None when not requested or not applicable (see MMKP.losses)."""

    itm: torch.Tensor | None = None  # eq. 16
    irtm: torch.Tensor | None = None  # eq. 17
    cla: torch.Tensor | None = None  # classifier cross-entropy
    gen: torch.Tensor | None = None  # eq. 19

    @property
    def total(self) -> torch.Tensor:
        """The sum of the present terms (eq. 15 in stage 1, eq. 19 alone in stage 2)."""
        present = [term for term in (self.itm, self.irtm, self.cla, self.gen) if term is not None]
        if not present:
            raise ValueError(
                "no loss term applies: every requested term is switched off or needs an image "
                "grid the batch does not carry"
            )
        return torch.stack(present).sum()

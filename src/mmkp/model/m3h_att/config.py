"""Sizes and switches of M3H-ATT, the CMKP model (Wang et al., EMNLP 2020), and its
Transformer variant M3H-ATT(TF) (`encoder: transformer`).

The image wordings are data settings, not network ones: OCR text is `data.use_ocr`, the
attribute words `data.attributes` (the fourth segment X_A of X_T); M3H-ATT(PO) is M3H-ATT
with the package's PP-OCR text in X_O. docs/baselines.md maps the model onto the paper.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from mmkp.model.config import (
    ModelConfig,
    check_dropout,
    check_heads,
    check_own_name,
    check_sizes,
)

NAME = "m3h-att"
M3H_LOSS_TERMS = ("cla", "gen")


@dataclass(frozen=True)
class M3HAttConfig(ModelConfig):
    name: str = NAME
    # gru: Bi-GRU encoder, GRU decoder (M3H-ATT); transformer: torch Transformer encoder and
    # decoder layers with a copy attention over the source (M3H-ATT(TF)).
    encoder: Literal["gru", "transformer"] = "gru"
    hidden_size: int = 150  # per GRU direction; d = 2 * hidden_size everywhere after it
    encoder_layers: int = 1  # Bi-GRU or Transformer encoder layers (public code: 2 GRU layers)
    decoder_layers: int = 2  # Transformer decoder layers (the GRU decoder has one)
    num_heads: int = 4  # heads of the M3H attention (and of the Transformer layers)
    dropout: float = 0.1
    use_image: bool = True  # False: no grid features; attributes alone form the image query
    image_dim: int = 1280  # channels C of the (49, C) image grid features
    classifier_top_k: int = 5  # labels whose words the decoder copies (the unified framework)

    loss_terms: ClassVar[tuple[str, ...]] = M3H_LOSS_TERMS
    # CMKP's second phase freezes the encoder and classifier and trains the generator.
    fine_tune_modules: ClassVar[tuple[str, ...] | None] = ("decoder", "generator")

    def __post_init__(self) -> None:
        super().__post_init__()
        check_own_name(self)
        check_sizes(
            self,
            "hidden_size",
            "encoder_layers",
            "decoder_layers",
            "num_heads",
            "image_dim",
            "classifier_top_k",
        )
        check_dropout(self.dropout)
        check_heads(self.size, self.num_heads, width_name="2 * hidden_size")

    @property
    def size(self) -> int:
        """d: the width of H_T, the image query, H_f and the decoder state."""
        return 2 * self.hidden_size

"""Sizes and ablation switches of the MM-MKP network (one frozen dataclass, loaded from YAML).

Every ablation of the paper's Table 2 is one field here (the data ablations w/o OCR and w/o
visual entities are `data.use_ocr` / `data.use_entities`: they change the input X_T, not the
network). docs/model.md says what each switch removes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

GLOVE_6B_50D = "glove-6b-50d"
GLOVE_6B_DIM = 50


@dataclass(frozen=True)
class ModelConfig:
    # Sizes. d = 2 * hidden_size is the width of everything after the Bi-GRU text encoder.
    emb_size: int = GLOVE_6B_DIM
    hidden_size: int = 150  # per GRU direction
    num_heads: int = 4  # cross-attention heads of the matcher and the classifier (eq. 3, 6)
    image_dim: int = 1280  # channels C of the (49, C) image grid features
    dropout: float = 0.1
    classifier_top_k: int = 5  # keyphrases whose words the decoder may copy (eq. 13)

    # Word embedding initialisation: random, the GloVe 6B 50d wheel, or a GloVe text file.
    embeddings: Literal["random", "glove-6b-50d", "file"] = "glove-6b-50d"
    embedding_file: str | None = field(default=None, metadata={"path": True})

    # Ablations (paper Table 2 and the extra switches).
    use_image: bool = True  # False: text-only, no image branch at all
    noise_filter: bool = True  # False: w/o the whole noise filtering module (H_I unfiltered)
    image_text_matching: bool = True  # False: w/o image-text matching (no s_c, no L_itm)
    region_text_matching: bool = True  # False: w/o region-text matching (no A, no L_irtm)
    match_source: Literal["itm", "precomputed"] = "itm"  # where s_c comes from
    use_itm_loss: bool = True  # False: w/o L_itm
    use_irtm_loss: bool = True  # False: w/o L_irtm
    use_cla_loss: bool = True  # False: w/o L_cla
    use_classifier_copy: bool = True  # False: the decoder copies only from the source (eq. 13)

    def __post_init__(self) -> None:
        for name in ("emb_size", "hidden_size", "num_heads", "image_dim", "classifier_top_k"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.size % self.num_heads:
            raise ValueError(
                f"2 * hidden_size ({self.size}) must be divisible by num_heads ({self.num_heads})"
            )
        if self.embeddings == GLOVE_6B_50D and self.emb_size != GLOVE_6B_DIM:
            raise ValueError(
                f"embeddings {GLOVE_6B_50D!r} has {GLOVE_6B_DIM} dimensions but emb_size is "
                f"{self.emb_size}: set emb_size: {GLOVE_6B_DIM} or embeddings: random"
            )
        if (self.embeddings == "file") != (self.embedding_file is not None):
            raise ValueError(
                "embedding_file must be set exactly when embeddings is 'file', got "
                f"embeddings={self.embeddings!r}, embedding_file={self.embedding_file!r}"
            )

    @property
    def size(self) -> int:
        """d: the Bi-GRU output width, shared by H_I, M_T, H_f and the decoder state."""
        return 2 * self.hidden_size

    @property
    def uses_matching(self) -> bool:
        """Whether s_c exists (coarse-grained filter, eq. 3)."""
        return self.use_image and self.noise_filter and self.image_text_matching

    @property
    def uses_regions(self) -> bool:
        """Whether A exists (fine-grained filter, eq. 4-5)."""
        return self.use_image and self.noise_filter and self.region_text_matching

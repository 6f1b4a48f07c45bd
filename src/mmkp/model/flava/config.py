"""FLAVA's settings: where the user's FLAVA model is, and the head fine-tuned on top of it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

from mmkp.config_loader import PATH
from mmkp.model.classifiers.config import ImageClassifierConfig

FLAVA = "flava"


@dataclass(frozen=True)
class FlavaClassifierConfig(ImageClassifierConfig):
    """`flava_path`: a local folder holding a FLAVA model and its tokenizer as transformers
    saves them (`FlavaModel.save_pretrained`, `tokenizer.save_pretrained`; e.g.
    facebook/flava-full fetched on a machine with hub access). The head is
    Linear(FLAVA width, d) + GELU, then the label layer, d = 2 * hidden_size."""

    name: str = FLAVA
    embeddings: Literal["random", "glove-6b-50d", "file"] = "random"  # FLAVA has its own
    flava_path: str | None = field(default=None, metadata=PATH)
    max_text_len: int = 64  # FLAVA word pieces per post, [CLS] and [SEP] included
    hidden_size: int = 384
    image_dim: int = 1280  # channels of the store's grids (EfficientNet-lite0's)

    # Without grids FLAVA still reads the text, so text-only data is not refused.
    reads_image: ClassVar[bool] = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.flava_path is None:
            raise ValueError(
                "model.flava_path must name a local FLAVA model folder (FlavaModel and its "
                "tokenizer saved with save_pretrained): nothing is downloaded here"
            )
        if self.max_text_len < 3:
            raise ValueError(f"max_text_len must be >= 3, got {self.max_text_len}")

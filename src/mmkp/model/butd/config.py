"""BUTD's settings: an image-only classifier over object-detector regions (one frozen
dataclass; the classification baselines' shared fields are in `ClassifierConfig`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mmkp.model.classifiers.config import ImageClassifierConfig

BUTD = "butd"
FASTER_RCNN_DIM = 2048  # channels of the bottom-up Faster R-CNN region features


@dataclass(frozen=True)
class ButdConfig(ImageClassifierConfig):
    """d = 2 * hidden_size: the width the regions are projected to (BUTD's 512 by default).
    `image_dim` is the store's channels: 2048 for detector regions, the CNN's (1280 for
    EfficientNet-lite0) when its grid cells stand in for regions."""

    name: str = BUTD
    embeddings: Literal["random", "glove-6b-50d", "file"] = (
        "random"  # no words are read: GloVe would only cost loading time
    )
    hidden_size: int = 256
    image_dim: int = FASTER_RCNN_DIM

"""Region grid features V: resize to 224 px, normalise, one batched CNN pass, 7x7 -> 49 regions.

The paper feeds VGG19's 7x7x512 pool5 map as 49 region vectors (H_I = W_I V + b_I, eq. 2);
any registered backbone gives the same (49, C) layout.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from mmkp.features.backbones import INPUT_SIZE, Backbone, BackboneSpec


def preprocess(images: Sequence[Image.Image], spec: BackboneSpec) -> torch.Tensor:
    """RGB images -> normalised (B, 3, 224, 224) float tensor (aspect ratio not kept, as in the
    paper's 224x224 input)."""
    size, bicubic = (INPUT_SIZE, INPUT_SIZE), Image.Resampling.BICUBIC
    pixels = np.stack(
        [np.asarray(image.convert("RGB").resize(size, bicubic)) for image in images]
    )  # (B, 224, 224, 3) uint8
    batch = torch.from_numpy(pixels).permute(0, 3, 1, 2).float().div_(255.0)  # (B, 3, 224, 224)
    mean = torch.tensor(spec.mean).view(1, 3, 1, 1)
    std = torch.tensor(spec.std).view(1, 3, 1, 1)
    return (batch - mean) / std


@dataclass
class GridBatch:
    """Grids of a batch of images, and the ImageNet class probabilities when asked for."""

    grids: np.ndarray  # (B, 49, C) float16
    probs: torch.Tensor | None  # (B, 1000) softmax, or None


def extract(
    backbone: Backbone, images: Sequence[Image.Image], *, with_probs: bool = False
) -> GridBatch:
    """One forward pass over `images` -> (B, 49, C) float16 grids (+ class probabilities)."""
    out = backbone(preprocess(images, backbone.spec), with_logits=with_probs)
    grids = out.feature_map.flatten(2).transpose(1, 2)  # (B, 49, C), regions row-major
    probs = None if out.logits is None else torch.softmax(out.logits.float(), dim=-1)
    return GridBatch(grids.to(torch.float16).numpy(), probs)

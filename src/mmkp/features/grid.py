"""Region grid features V: resize to the backbone's input size, normalise, one batched CNN
pass, g x g -> g * g regions.

The paper feeds VGG19's 7x7x512 pool5 map at 224 px as 49 region vectors (H_I = W_I V + b_I,
eq. 2); every registered backbone gives the same (g * g, C) layout, row-major.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from mmkp.features.backbones import Backbone, BackboneSpec


def preprocess(images: Sequence[Image.Image], spec: BackboneSpec) -> torch.Tensor:
    """RGB images -> normalised (B, 3, S, S) float tensor, S = `spec.input_size` (aspect ratio
    not kept, as in the paper's 224x224 input)."""
    size, bicubic = (spec.input_size, spec.input_size), Image.Resampling.BICUBIC
    pixels = np.stack(
        [np.asarray(image.convert("RGB").resize(size, bicubic)) for image in images]
    )  # (B, S, S, 3) uint8
    batch = torch.from_numpy(pixels).permute(0, 3, 1, 2).float().div_(255.0)  # (B, 3, S, S)
    mean = torch.tensor(spec.mean).view(1, 3, 1, 1)
    std = torch.tensor(spec.std).view(1, 3, 1, 1)
    return (batch - mean) / std


@dataclass
class GridBatch:
    """Grids of a batch of images, and the ImageNet class probabilities when asked for."""

    grids: np.ndarray  # (B, g * g, C) float16
    probs: torch.Tensor | None  # (B, 1000) softmax, or None


def extract(
    backbone: Backbone, images: Sequence[Image.Image], *, with_probs: bool = False
) -> GridBatch:
    """One forward pass over `images` -> (B, g * g, C) float16 grids (+ class probabilities)."""
    spec = backbone.spec
    out = backbone(preprocess(images, spec), with_logits=with_probs)
    expected = (spec.channels, spec.grid_side, spec.grid_side)
    if tuple(out.feature_map.shape[1:]) != expected:
        raise ValueError(
            f"backbone {spec.name!r} gave feature maps of shape "
            f"{tuple(out.feature_map.shape[1:])}, but is registered with (channels, grid_side, "
            f"grid_side) = {expected}"
        )
    grids = out.feature_map.flatten(2).transpose(1, 2)  # (B, g * g, C), regions row-major
    probs = None if out.logits is None else torch.softmax(out.logits.float(), dim=-1)
    return GridBatch(grids.to(torch.float16).numpy(), probs)

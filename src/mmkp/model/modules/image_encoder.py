"""Image sub-encoder (eq. 2): grid features (B, R, C) -> H_I = W_I V + b_I (B, R, d).

Rows of posts without an image are set to zero and reported by the region mask, so later
modules can ignore them (their attention over regions is empty, see attention.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class ImageEncoding:
    regions: torch.Tensor  # (B, R, d) H_I, zero on rows without an image
    mask: torch.Tensor  # (B, R) bool, True on the regions of real images


class ImageEncoder(nn.Module):
    def __init__(self, image_dim: int, size: int, dropout: float):
        super().__init__()
        self.image_dim = image_dim
        self.project = nn.Linear(image_dim, size)
        self.dropout = nn.Dropout(dropout)

    def forward(self, grid: torch.Tensor, has_image: torch.Tensor) -> ImageEncoding:
        """grid (B, R, C) float, has_image (B,) bool -> ImageEncoding."""
        if grid.size(-1) != self.image_dim:
            raise ValueError(
                f"image grid features have {grid.size(-1)} channels but model.image_dim is "
                f"{self.image_dim}: set image_dim to the feature store's dimension"
            )
        regions = self.dropout(self.project(grid.float()))  # (B, R, d)
        mask = has_image[:, None].expand(-1, grid.size(1))  # (B, R)
        return ImageEncoding(regions=regions * mask.unsqueeze(-1), mask=mask)

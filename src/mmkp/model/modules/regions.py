"""Which image regions are real: a post without an image has none, and a detector's regions
may end in padding (`mmkp.features.regions` stores every image with the same N rows, zero
rows after its last region; a CNN grid cell or a detector feature is never all zeros after
the ReLU they come from, so zero rows are only ever padding)."""

from __future__ import annotations

import torch


def region_mask(grid: torch.Tensor, has_image: torch.Tensor) -> torch.Tensor:
    """grid (B, R, C), has_image (B,) bool -> (B, R) bool, True on the real regions."""
    return has_image[:, None] & (grid != 0).any(dim=-1)

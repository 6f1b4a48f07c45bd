"""Inference-only speed-ups for EfficientNet-Lite (same outputs up to float rounding).

Eager PyTorch spends about 40% of a Lite0 pass on batch norm, the ReLU6 copies and the
explicit "same" padding (benchmarks/features.py). For inference: batch norm folds into the
preceding convolution, symmetric padding moves into the convolution itself, and ReLU6 works
in place. The network is walked through `nn.Module`'s public API: in every module, a batch
norm registered right after a convolution is that convolution's norm (how
`efficientnet_lite_pytorch` builds its stem, blocks and head).
"""

from __future__ import annotations

import torch
from torch import nn


@torch.no_grad()
def fold_batch_norm(conv: nn.Conv2d, norm: nn.BatchNorm2d) -> None:
    """conv <- norm(conv): s = g / sqrt(var + eps), W' = W * s, b' = (b - mean) * s + beta."""
    assert norm.running_var is not None and norm.running_mean is not None
    scale = norm.weight / torch.sqrt(norm.running_var + norm.eps)  # (C_out,)
    bias = conv.bias if conv.bias is not None else torch.zeros_like(norm.running_mean)
    conv.weight.mul_(scale.view(-1, 1, 1, 1))
    conv.bias = nn.Parameter((bias - norm.running_mean) * scale + norm.bias)


def _inline_padding(conv: nn.Conv2d) -> None:
    """ZeroPad2d(l, r, t, b) with l == r and t == b -> the convolution's own padding."""
    pad = getattr(conv, "static_padding", None)  # the library's "same"-padding child
    if isinstance(pad, nn.ZeroPad2d):
        left, right, top, bottom = pad.padding
        if left == right and top == bottom:
            conv.padding = (top, left)
            conv.static_padding = nn.Identity()


def fuse_efficientnet(model: nn.Module) -> nn.Module:
    """Fuse an eval-mode `efficientnet_lite_pytorch.EfficientNet` in place; returns it."""
    model.eval()
    for owner in list(model.modules()):
        previous: nn.Module | None = None
        for name, child in list(owner.named_children()):
            if isinstance(child, nn.BatchNorm2d) and isinstance(previous, nn.Conv2d):
                fold_batch_norm(previous, child)
                setattr(owner, name, nn.Identity())
                _inline_padding(previous)
            elif isinstance(child, nn.ReLU6):  # every Lite variant's activation
                setattr(owner, name, nn.ReLU6(inplace=True))
            previous = child
    return model

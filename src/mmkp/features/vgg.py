"""VGG16 / VGG19 convolutional trunks with torchvision's parameter names (`features.0.weight`).

The paper's grid is VGG19's last pooling output at 224 px: 7x7 regions of 512 channels. No VGG
weights ship in a wheel, so the user supplies a standard ImageNet state dict (`--weights`,
`.pth`/`.pt` or `.safetensors`); the classifier layers in it are ignored.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

# torchvision's configurations "D" (VGG16) and "E" (VGG19): conv widths, "M" = 2x2 max pool.
CONFIGS: dict[str, list[int | str]] = {
    "vgg16": [64, 64, "M", 128, 128, "M", *[256] * 3, "M", *[512] * 3, "M", *[512] * 3, "M"],
    "vgg19": [64, 64, "M", 128, 128, "M", *[256] * 4, "M", *[512] * 4, "M", *[512] * 4, "M"],
}


class VGGTrunk(nn.Module):
    """`features` of torchvision's VGG (no batch norm): (B, 3, 224, 224) -> (B, 512, 7, 7)."""

    def __init__(self, name: str):
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for item in CONFIGS[name]:
            if item == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                layers += [nn.Conv2d(channels, int(item), kernel_size=3, padding=1), nn.ReLU(True)]
                channels = int(item)
        self.features = nn.Sequential(*layers)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.features(images)  # (B, 512, H/32, W/32)


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """A state dict from `.safetensors` or a torch file (tensors only: never unpickles code)."""
    if not path.is_file():
        raise FileNotFoundError(f"weights file {path} does not exist")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(f"weights file {path} cannot be read as a state dict: {exc}") from exc
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"weights file {path} does not hold a state dict of tensors")
    return state


def load_vgg(name: str, weights: str | Path) -> VGGTrunk:
    """VGG trunk `name` with the `features.*` tensors of `weights`; errors list the bad keys."""
    path = Path(weights)
    state = read_state_dict(path)
    model = VGGTrunk(name)
    expected = model.state_dict()
    missing = [key for key in expected if key not in state]
    mismatched = [
        f"{key} {tuple(state[key].shape)} (expected {tuple(tensor.shape)})"
        for key, tensor in expected.items()
        if key in state and state[key].shape != tensor.shape
    ]
    unexpected = [k for k in state if k.startswith("features.") and k not in expected]
    if missing or mismatched or unexpected:
        problems = []
        if missing:
            problems.append(f"missing keys {_listing(missing)}")
        if mismatched:
            problems.append(f"mismatched shapes {_listing(mismatched)}")
        if unexpected:
            problems.append(f"unexpected keys {_listing(unexpected)}")
        raise ValueError(
            f"weights file {path} does not fit {name} (torchvision names such as "
            f"features.0.weight are expected): {'; '.join(problems)}"
        )
    model.load_state_dict({key: state[key].float() for key in expected})
    return model


def _listing(items: list[str], limit: int = 6) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" ... ({len(items)} in all)" if len(items) > limit else "")

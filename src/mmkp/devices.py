"""Where tensors live: the one place a device name becomes a `torch.device`.

    resolve_device("auto")    # cuda when a CUDA GPU is visible, else cpu
    resolve_device("cuda:1")  # ValueError naming the setting when that GPU is not there

Names: `auto`, `cpu`, `cuda`, `cuda:N`. Training (`train.device`), `Predictor.load(...,
device=)` and the `--device` flags all go through here, so an unusable device is one clear
error before a model is built, never a CUDA traceback in the middle of a run.
"""

from __future__ import annotations

import re

import torch

DEVICE_CHOICES = "auto | cpu | cuda | cuda:N"
DEVICE_NAME = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


def resolve_device(name: str | torch.device | None) -> torch.device:
    """The device `name` stands for; None and "cpu" are the CPU."""
    if isinstance(name, torch.device):
        name = str(name)
    if name is None or name == "cpu":
        return torch.device("cpu")
    if not DEVICE_NAME.match(name):
        raise ValueError(f"device must be one of {DEVICE_CHOICES}, got {name!r}")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        raise ValueError(f"device {name!r} asked for, but torch sees no CUDA GPU here")
    device = torch.device(name)
    count = torch.cuda.device_count()
    if device.index is not None and device.index >= count:
        raise ValueError(f"device {name!r} asked for, but torch sees {count} CUDA GPU(s)")
    return device

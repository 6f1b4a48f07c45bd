"""Where training runs and in what precision: `train.device` and `train.precision`, in one place
(the device name is resolved by `mmkp.devices`, as for `Predictor.load`).

    device     auto (cuda when available, else cpu) | cpu | cuda | cuda:N
    precision  fp32 | bf16 | fp16   (bf16 and fp16 autocast the forward passes on CUDA;
                                     fp16 scales the loss so small gradients survive)

The model is moved to the device once, each batch once, as it enters a pass (`to_device`);
data loading, vocabularies and checkpoints stay on the CPU (`mmkp.training.state` saves CPU
tensors and the optimizer's state follows its parameters when loaded), so a run resumes on
another device. The CPU trains in fp32 only: a half-precision CPU run would neither be faster
nor match the fp32 results, so the config refuses it (`TrainConfig`) and so does `Hardware`
when `auto` finds no GPU.
"""

from __future__ import annotations

import os
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

import torch

from mmkp.data.batch import Batch
from mmkp.devices import resolve_device

AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
# cuBLAS is deterministic only with a fixed workspace (torch docs, "Reproducibility"); read
# when its first handle is made, so set before any CUDA matmul.
CUBLAS_WORKSPACE = ":4096:8"


@dataclass(frozen=True)
class Hardware:
    """The resolved device and precision of a training run."""

    device: torch.device
    precision: str = "fp32"

    @classmethod
    def from_config(cls, device: str, precision: str) -> Hardware:
        """Resolve `train.device` (auto -> cuda or cpu, `mmkp.devices`) and check the
        precision fits it."""
        try:
            resolved = resolve_device(device)
        except ValueError as exc:
            raise ValueError(f"train.device: {exc}") from exc
        if precision != "fp32" and resolved.type != "cuda":
            raise ValueError(
                f"train.precision {precision} needs a CUDA device, but train.device {device!r} "
                f"is {resolved}: use train.precision=fp32 on the CPU"
            )
        return cls(resolved, precision)

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    def autocast(self) -> AbstractContextManager[object]:
        """The context of a forward pass: autocast to bf16/fp16 on CUDA, else nothing."""
        if self.precision == "fp32":
            return nullcontext()
        return torch.autocast(device_type="cuda", dtype=AUTOCAST_DTYPES[self.precision])

    def grad_scaler(self) -> torch.amp.GradScaler | None:
        """fp16 gradients underflow without loss scaling; bf16 has fp32's range and needs none."""
        return torch.amp.GradScaler("cuda") if self.precision == "fp16" else None

    def to_device(self, batch: Batch) -> Batch:
        return batch if self.device.type == "cpu" else batch.to(self.device)

    def make_deterministic(self) -> None:
        """Deterministic kernels: required on the CPU (bit-identical runs); on CUDA the ops
        without a deterministic kernel (e.g. some scatter backward passes) warn instead of
        failing, so a GPU run is repeatable where torch can make it so."""
        if self.is_cuda:
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
            torch.use_deterministic_algorithms(True, warn_only=True)
        else:
            torch.use_deterministic_algorithms(True)

"""Training checkpoints: a model directory (`mmkp.inference.checkpoint`) plus

    trainer_state.json         epoch, early stopping, history, ...
    trainer_state.safetensors  optimizer tensors and the torch RNG (with several processes,
                               every rank's: "rng.torch.rank1", ...)

so an interrupted stage resumes exactly where it stopped. Tensors are saved from the CPU and
the optimizer's follow its parameters when loaded, so a run resumes on another device.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from mmkp.data.neighbours import RetrievalIndex
from mmkp.data.vocab import LabelSet, Vocab
from mmkp.inference.checkpoint import InferenceConfig, save_checkpoint
from mmkp.io import read_text, recover_directory, write_json_atomic
from mmkp.model.protocol import KeyphraseModel
from mmkp.processing.processor import ProcessorConfig

STATE_FILE = "trainer_state.json"
STATE_TENSORS = "trainer_state.safetensors"
RNG_KEY = "rng.torch"
CUDA_RNG_KEY = "rng.cuda"  # the current CUDA device's generator (dropout on the GPU)
OPTIMIZER_PREFIX = "optimizer.state."


@dataclass
class TrainerState:
    """Where a training stage stands after `epoch` completed epochs."""

    stage: str
    epoch: int
    finished: bool = False
    early_stopping: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    grad_scaler: dict[str, Any] | None = None  # fp16's loss scale (torch.amp.GradScaler)


def save_training_checkpoint(
    directory: str | Path,
    *,
    model: KeyphraseModel,
    vocab: Vocab,
    labels: LabelSet,
    config: InferenceConfig,
    trainer: TrainerState,
    optimizer: torch.optim.Optimizer | None,
    retrieval: RetrievalIndex | None = None,
    processor: ProcessorConfig | None = None,
    rank_rng: Sequence[dict[str, torch.Tensor]] = (),
) -> Path:
    """A model directory with the trainer state, the optimizer and the torch RNG; `rank_rng`:
    every rank's `rng_state()` by rank (distributed training), else this process's."""

    def write_state(tmp: Path) -> None:
        write_json_atomic(tmp / STATE_FILE, asdict(trainer))
        tensors, scalars = _flatten_optimizer(optimizer)
        tensors.update(rank_rng[0] if rank_rng else rng_state())
        for rank, states in enumerate(rank_rng[1:], start=1):
            tensors.update({f"{key}.rank{rank}": state for key, state in states.items()})
        save_file(tensors, str(tmp / STATE_TENSORS), metadata={"optimizer": scalars})

    return save_checkpoint(
        directory,
        model=model,
        vocab=vocab,
        labels=labels,
        config=config,
        extra=write_state,
        retrieval=retrieval,
        processor=processor,
    )


def read_trainer_state(directory: str | Path) -> TrainerState | None:
    """The trainer state of a checkpoint directory, or None when it has none.

    A save killed between its two renames left the previous checkpoint beside its place
    (`recover_directory`): it is put back first, so the run resumes from it."""
    recover_directory(directory)
    path = Path(directory) / STATE_FILE
    if not path.is_file():
        return None
    try:
        return TrainerState(**json.loads(read_text(path)))
    except (json.JSONDecodeError, TypeError) as exc:
        raise ValueError(f"{path}: not a trainer state ({exc}); start a new --out") from exc


def rng_state() -> dict[str, torch.Tensor]:
    """This process's torch generators: the CPU's and, once CUDA is used, the current GPU's."""
    states = {RNG_KEY: torch.get_rng_state()}
    if torch.cuda.is_initialized():
        states[CUDA_RNG_KEY] = torch.cuda.get_rng_state()
    return states


def restore_training(
    directory: str | Path, optimizer: torch.optim.Optimizer, *, rank: int = 0
) -> None:
    """Load the optimizer's state and the torch RNG saved with a training checkpoint; `rank`
    (distributed training) picks that rank's generators. A rank the checkpoint has none for
    (a run saved by fewer processes) keeps its seeded generators."""
    path = Path(directory) / STATE_TENSORS
    if not path.is_file():
        raise FileNotFoundError(f"{directory}: no {STATE_TENSORS} to resume from")
    with safe_open(str(path), framework="pt") as handle:
        tensors = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
        scalars = json.loads(handle.metadata()["optimizer"])  # the non-tensor optimizer state
    state: dict[int, dict[str, Any]] = {}
    for key, tensor in tensors.items():
        if key.startswith(OPTIMIZER_PREFIX):
            index, name = key[len(OPTIMIZER_PREFIX) :].split(".", 1)
            state.setdefault(int(index), {})[name] = tensor
    for index, values in scalars["state"].items():
        state.setdefault(int(index), {}).update(values)
    groups = [  # JSON turned tuples such as Adam's betas into lists
        {k: v if k == "params" or not isinstance(v, list) else tuple(v) for k, v in group.items()}
        for group in scalars["param_groups"]
    ]
    optimizer.load_state_dict({"state": state, "param_groups": groups})
    suffix = f".rank{rank}" if rank else ""
    if RNG_KEY + suffix in tensors:
        torch.set_rng_state(tensors[RNG_KEY + suffix])
    cuda_key = CUDA_RNG_KEY + suffix
    if cuda_key in tensors and torch.cuda.is_available():  # a CPU run resumed on CUDA: none
        torch.cuda.set_rng_state(tensors[cuda_key])


def _flatten_optimizer(
    optimizer: torch.optim.Optimizer | None,
) -> tuple[dict[str, torch.Tensor], str]:
    """Optimizer state -> (tensors keyed "optimizer.state.<param>.<name>", JSON of the rest)."""
    if optimizer is None:
        return {}, json.dumps({"state": {}, "param_groups": []})
    state_dict = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, values in state_dict["state"].items():
        for name, value in values.items():
            if isinstance(value, torch.Tensor):
                # CPU tensors on disk: load_state_dict moves them to their parameters' device
                tensors[f"{OPTIMIZER_PREFIX}{index}.{name}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(index), {})[name] = value
    return tensors, json.dumps({"state": scalars, "param_groups": state_dict["param_groups"]})

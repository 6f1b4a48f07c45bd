"""Beyond the paper: checkpoint averaging (issue 24's lever; `mmkp average`).

    average_checkpoints(["seed1/model", "seed2/model", "seed3/model"], "averaged/model")

writes a model directory whose weights (model.safetensors) are the element-wise mean of the
given directories' weights, every other file (config.json, vocab.json, labels.json,
processor.json, retrieval.json) copied from the first, and a model card naming the
directories it averages. The directories must be one architecture on one vocabulary: their
config.json sections, vocabulary, labels, processor and retrieval index must agree, and their
tensors have the same names, shapes and dtypes; otherwise one ValueError names the directory
and what differs. Integer and bool buffers (counters, index tables) are not averaged: they
must be equal in every directory, and are kept as they are.

Floating tensors are summed in float64 and the mean rounded once to their dtype, so the
average of a directory with itself is its own weights, bit for bit. The directory is written
beside its place and renamed over it (`mmkp.io.atomic_directory`), as checkpoints are.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from mmkp.data.neighbours import INDEX_FILE
from mmkp.data.vocab import LabelSet, Vocab
from mmkp.inference.checkpoint import (
    CONFIG_FILE,
    LABELS_FILE,
    MODEL_FILE,
    VOCAB_FILE,
    InferenceConfig,
    check_checkpoint,
)
from mmkp.inference.model_card import ModelCard, write_model_card
from mmkp.io import atomic_directory
from mmkp.processing.processor import PROCESSOR_FILE

# copied from the first directory; each must be byte-equal (or absent) in every other
COPIED = (VOCAB_FILE, LABELS_FILE, PROCESSOR_FILE, INDEX_FILE)
SECTIONS = ("model", "text", "decode", "backbone")  # config.json's, compared one by one


def average_checkpoints(directories: Sequence[str | Path], out: str | Path) -> Path:
    """Write `out`, the average of `directories` (module docstring); returns its path."""
    paths = [Path(d) for d in directories]
    if len(paths) < 2:
        raise ValueError(f"averaging needs two or more model directories, got {len(paths)}")
    configs = [check_checkpoint(path) for path in paths]  # each one a loadable model
    _check_same_files(paths, configs)
    averaged, metadata = mean_weights(paths)
    with atomic_directory(out) as tmp:
        save_file(averaged, str(tmp / MODEL_FILE), metadata=metadata)
        shutil.copy2(paths[0] / CONFIG_FILE, tmp / CONFIG_FILE)
        for name in COPIED:
            if (paths[0] / name).is_file():
                shutil.copy2(paths[0] / name, tmp / name)
        card = ModelCard(
            configs[0].to_dict(),
            words=len(Vocab.load(tmp / VOCAB_FILE)),
            labels=len(LabelSet.load(tmp / LABELS_FILE)),
            averaged_from=tuple(str(path) for path in paths),
        )
        write_model_card(tmp, card)
    return Path(out)


def _check_same_files(paths: list[Path], configs: list[InferenceConfig]) -> None:
    first = paths[0]
    for path, config in zip(paths[1:], configs[1:], strict=True):
        for section in SECTIONS:
            if getattr(config, section) != getattr(configs[0], section):
                _differs(path, first, f"config.json {section!r} section")
        for name in COPIED:
            mine, theirs = path / name, first / name
            if mine.is_file() != theirs.is_file() or (
                mine.is_file() and mine.read_bytes() != theirs.read_bytes()
            ):
                _differs(path, first, name)


def mean_weights(paths: Sequence[Path]) -> tuple[dict[str, torch.Tensor], dict[str, str] | None]:
    """Of the directories' model.safetensors: the mean of every floating tensor, the integer
    and bool ones checked equal and kept; and the first file's safetensors metadata (which
    names the tied tensors it left out)."""
    files = [safe_open(str(path / MODEL_FILE), framework="pt") for path in paths]
    keys = set(files[0].keys())
    for path, file in zip(paths[1:], files[1:], strict=True):
        if set(file.keys()) != keys:
            extra = sorted(set(file.keys()) ^ keys)[0]
            _differs(path, paths[0], f"{MODEL_FILE} (tensor {extra} in one of them only)")
    averaged = {}
    for key in sorted(keys):
        first = files[0].get_tensor(key)
        total = first.double() if first.is_floating_point() else None
        for path, file in zip(paths[1:], files[1:], strict=True):
            tensor = file.get_tensor(key)
            if tensor.shape != first.shape or tensor.dtype != first.dtype:
                _differs(path, paths[0], f"{MODEL_FILE} tensor {key} shape or dtype")
            if total is None:
                if not torch.equal(tensor, first):
                    _differs(path, paths[0], f"{MODEL_FILE} {first.dtype} buffer {key}")
            else:
                total += tensor.double()
        averaged[key] = first if total is None else (total / len(paths)).to(first.dtype)
    return averaged, files[0].metadata()


def _differs(path: Path, first: Path, what: str) -> None:
    raise ValueError(
        f"{path}: its {what} differs from {first}'s; only models of one architecture, "
        "vocabulary and data config (e.g. seeds) can be averaged"
    )

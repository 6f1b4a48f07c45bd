"""Whether a model directory's weights fit its config, decided before anything is allocated.

The config's sizes are bounded first (`MAX_SIZE`), then the model it describes is built on
torch's meta device (shapes, no storage) and compared with the shapes in the safetensors
header; the tensors are streamed one at a time to check they are finite. Only a directory that
passes is built for real, so a config.json whose sizes no machine could allocate is a
ValueError naming it and the setting, not an allocator failure.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open

from mmkp.data.vocab import LabelSet, Vocab
from mmkp.model.config import ModelConfig
from mmkp.model.protocol import KeyphraseModel
from mmkp.model.registry import build_model

# No size setting of any model mmkp builds comes near this (widths are hundreds to thousands);
# past it, a config is damaged or a typo, and a build would exhaust memory.
MAX_SIZE = 2**24
# Values a model may hold beyond those its weights file stores (non-persistent buffers, such
# as position tables): more than this (1 GiB of float32) means a size in the config is wrong.
MAX_UNSTORED = 2**28


@dataclass(frozen=True)
class WeightsSource:
    """The files a check names: the weights, the config, the vocabulary and the label set."""

    weights: Path
    config: Path
    vocab: Path
    labels: Path
    defaulted: tuple[str, ...] = ()  # config keys given library defaults (`section.key`)


def check_weights(
    config: ModelConfig, vocab: Vocab, labels: LabelSet, source: WeightsSource
) -> KeyphraseModel | None:
    """Raise one ValueError naming the file and the problem unless `source.weights` holds
    exactly the finite tensors `config` builds, with their shapes. Returns the model when the
    check had to build it for real (`_build_meta`), so the loader need not build it twice."""
    _check_bounds(config, source.config)
    stored = _stored_shapes(source.weights)
    model = _build_meta(config, vocab, labels, source.config)
    expected = {key: tuple(value.shape) for key, value in model.state_dict().items()}
    problems = [
        f"{key} is {list(stored[key])} in the file but {list(shape)} for the config"
        for key, shape in expected.items()
        if key in stored and stored[key] != shape
    ]
    shared = _shared_keys(model)
    missing = [
        key for key in expected if key not in stored and not (shared.get(key, set()) & set(stored))
    ]
    problems += [f"no tensor {key}" for key in missing]
    problems += [
        f"tensor {key} that the config has no place for" for key in stored if key not in expected
    ]
    if problems:
        shown = "; ".join(problems[:3])
        shown += f" (+{len(problems) - 3} more)" if len(problems) > 3 else ""
        hint = _hints(config, expected, stored, len(vocab), len(labels), source)
        raise ValueError(f"{source.weights} does not fit {source.config}: {shown}{hint}")
    _check_unstored(model, stored, source)
    _check_finite(source.weights)
    return None if any(t.is_meta for t in model.state_dict().values()) else model


def _check_bounds(config: ModelConfig, path: Path) -> None:
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if isinstance(value, int) and not isinstance(value, bool) and value > MAX_SIZE:
            raise ValueError(
                f"{path}: model.{f.name} is {value}, beyond any model mmkp builds (at most "
                f"{MAX_SIZE}); the file is damaged or the setting mistyped"
            )


def _stored_shapes(weights: Path) -> dict[str, tuple[int, ...]]:
    """The tensors' shapes from the safetensors header (no tensor is read)."""
    try:
        with safe_open(str(weights), framework="pt") as handle:
            return {key: tuple(handle.get_slice(key).get_shape()) for key in handle.keys()}  # noqa: SIM118
    except (SafetensorError, OSError) as exc:
        raise ValueError(
            f"{weights}: not a readable safetensors file ({exc}); the file is damaged or was "
            "not written by mmkp"
        ) from exc


def _build_meta(config: ModelConfig, vocab: Vocab, labels: LabelSet, path: Path) -> KeyphraseModel:
    """The model `config` describes, with shapes but no storage; a member that cannot be
    built on the meta device (one loading a pretrained model, whose sizes come from its own
    folder, not from config.json) is built for real."""
    try:
        with torch.device("meta"):
            return build_model(config, vocab, labels)
    except (RuntimeError, OverflowError) as exc:
        if "meta" in str(exc):
            return build_model(config, vocab, labels)
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(f"{path}: the model it describes cannot be built ({reason})") from exc


def _shared_keys(model: KeyphraseModel) -> dict[str, set[str]]:
    """Each state key -> the other keys of the same tensor (tied weights, which safetensors
    stores once). On the meta device there is no storage to compare, so identity decides."""
    state = model.state_dict(keep_vars=True)
    return {
        key: {other for other, tensor in state.items() if other != key and tensor is value}
        for key, value in state.items()
    }


def _hints(
    config: ModelConfig,
    expected: dict[str, tuple[int, ...]],
    stored: dict[str, tuple[int, ...]],
    vocab_size: int,
    labels: int,
    source: WeightsSource,
) -> str:
    """What in the directory likely explains a shape mismatch, in parentheses ('' if nothing)."""
    sizes = {
        size
        for key, shape in expected.items()
        if key in stored and len(stored[key]) == len(shape)
        for size, found in zip(shape, stored[key], strict=True)
        if size != found
    }
    hints = []
    if source.defaulted:
        hints.append(
            f"{source.config.name} lacks {', '.join(source.defaulted)}, so library defaults "
            "were used"
        )
    settings = [
        f"model.{f.name}={getattr(config, f.name)}"
        for f in dataclasses.fields(config)
        if type(getattr(config, f.name)) is int and getattr(config, f.name) in sizes
    ]
    if settings and not source.defaulted:
        hints.append(f"{source.config.name} sets {', '.join(settings)}")
    if vocab_size in sizes:
        hints.append(f"{source.vocab.name} has {vocab_size} words, which the weights do not match")
    if labels in sizes:
        hints.append(f"{source.labels.name} has {labels} labels, which the weights do not match")
    return f" ({'; '.join(hints)})" if hints else ""


def _check_unstored(
    model: KeyphraseModel, stored: dict[str, tuple[int, ...]], source: WeightsSource
) -> None:
    """Buffers the file does not store are allocated too: bound them."""
    held = sum(t.numel() for t in (*model.parameters(), *model.buffers()))
    kept = sum(torch.Size(shape).numel() for shape in stored.values())
    if held - kept > MAX_UNSTORED:
        raise ValueError(
            f"{source.config}: the model it describes holds {held - kept} values beyond the "
            f"{kept} that {source.weights.name} stores; a size in it is wrong"
        )


def _check_finite(weights: Path) -> None:
    """Every floating-point tensor of the file is finite (read one at a time)."""
    with safe_open(str(weights), framework="pt") as handle:
        for key in handle.keys():  # noqa: SIM118
            value = handle.get_tensor(key)
            if value.is_floating_point() and not bool(torch.isfinite(value).all()):
                raise ValueError(f"{weights}: tensor {key} holds NaN or infinite values (damaged?)")

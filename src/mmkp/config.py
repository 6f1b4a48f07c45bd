"""The typed experiment configuration: frozen dataclasses per concern, loaded from YAML.

    data:   DataConfig     which posts, which inputs, vocabulary and label-set sizes
    model:  ModelConfig    sizes and ablation switches (mmkp.model.config)
    train:  TrainConfig    seed, threads, and one StageConfig per training stage
    decode: DecodeConfig   beam search settings

`load_config(path, overrides)` reads a YAML file, applies `--set key.path=value` overrides
and checks every key and type: an unknown key or a wrongly typed value is an error that names
the key and where it came from. Relative data paths in a file are relative to that file;
relative paths given with `--set` are relative to the working directory.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from mmkp.model.config import ModelConfig

# dataclass field metadata marking a filesystem path (resolved against the config file's folder).
PATH = {"path": True}
Monitor = Literal["loss", "F1@1", "F1@3", "F1@5", "MAP@5"]
LossTerm = Literal["itm", "irtm", "cla", "gen"]  # see mmkp.model.outputs.Losses


class ConfigError(ValueError):
    """A configuration problem; the message names the source (file or --set) and the key."""


@dataclass(frozen=True)
class SplitConfig:
    """One split: a JSONL or `<sep>` file, optionally only posts `first`..`last` (1-based,
    inclusive, in file order; equal to line numbers for a file without bad lines)."""

    path: str = field(metadata=PATH)
    first: int | None = None
    last: int | None = None

    def __post_init__(self) -> None:
        if self.first is not None and self.first < 1:
            raise ValueError(f"first must be >= 1, got {self.first}")
        if self.first is not None and self.last is not None and self.last < self.first:
            raise ValueError(f"last ({self.last}) must be >= first ({self.first})")


@dataclass(frozen=True)
class DataConfig:
    train: SplitConfig
    dev: SplitConfig
    test: SplitConfig | None = None
    features: str | None = field(default=None, metadata=PATH)  # FeatureStore dir; None: text only
    use_ocr: bool = True
    use_entities: bool = True
    vocab_size: int = 50_000  # most frequent training words kept (specials not counted)
    min_word_count: int = 1
    label_min_count: int = 1  # training keyphrases seen fewer times are not classifier labels
    max_src_len: int = 128  # X_T tokens kept (OCR is cut first; see mmkp.data.batching)

    def __post_init__(self) -> None:
        for name in ("vocab_size", "min_word_count", "label_min_count", "max_src_len"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")


@dataclass(frozen=True)
class StageConfig:
    """One training stage: the loss `terms` it optimises, Adam settings, early stopping.

    Early stopping watches `monitor` on the dev split: "loss" (the stage's own loss, lower is
    better) or a keyphrase metric (higher is better) of the stage's predictions (stage 1: the
    classifier's top labels; stage 2: beam search)."""

    epochs: int
    terms: tuple[LossTerm, ...] = ("itm", "irtm", "cla")  # eq. 15; add "gen" to train jointly
    lr: float = 1e-3
    batch_size: int = 64
    grad_clip: float = 5.0  # max global gradient norm; 0 disables clipping
    monitor: Monitor = "loss"
    patience: int = 3  # stop after this many epochs without improvement

    def __post_init__(self) -> None:
        if self.epochs < 0:
            raise ValueError(f"epochs must be >= 0, got {self.epochs}")
        if not self.terms or len(set(self.terms)) != len(self.terms):
            raise ValueError(f"terms must list distinct loss terms, got {list(self.terms)}")
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if self.batch_size < 1 or self.patience < 1 or self.grad_clip < 0:
            raise ValueError(
                "batch_size and patience must be >= 1 and grad_clip >= 0, got "
                f"{self.batch_size}, {self.patience}, {self.grad_clip}"
            )


@dataclass(frozen=True)
class Stage2Config(StageConfig):
    """Stage 2 (eq. 19) also decides what it trains: `trainable` lists the model's top-level
    modules whose parameters it optimises (None: all). The default, the generator only,
    follows the paper's public code (its second phase freezes encoder and classifier)."""

    terms: tuple[LossTerm, ...] = ("gen",)
    trainable: tuple[str, ...] | None = ("decoder", "generator")


@dataclass(frozen=True)
class TrainConfig:
    stage1: StageConfig = StageConfig(epochs=10)
    stage2: Stage2Config = Stage2Config(epochs=15)
    seed: int = 1
    threads: int = 2  # torch intra-op threads
    eval_batch_size: int = 64
    by_length: bool = True  # batch rows of similar source length (less padding, faster)


@dataclass(frozen=True)
class DecodeConfig:
    beam_size: int = 10
    max_len: int = 6
    top_k: int = 5
    strategy: Literal["beam", "greedy"] = "beam"
    # Keep only keyphrases scored within this gap (length-normalised log-probability) of the
    # post's best; None keeps all top_k (the paper). See docs/decoding.md.
    max_score_gap: float | None = None

    def __post_init__(self) -> None:
        if min(self.beam_size, self.max_len, self.top_k) < 1:
            raise ValueError(
                "beam_size, max_len and top_k must be >= 1, got "
                f"{self.beam_size}, {self.max_len}, {self.top_k}"
            )
        if self.max_score_gap is not None and self.max_score_gap < 0:
            raise ValueError(f"max_score_gap must be >= 0, got {self.max_score_gap}")


@dataclass(frozen=True)
class ExperimentConfig:
    data: DataConfig
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = TrainConfig()
    decode: DecodeConfig = DecodeConfig()

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (tuples as lists), as written to config.json."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def from_dict(cls, data: Any, *, source: str) -> ExperimentConfig:
        return from_dict(cls, data, source=source)


def load_config(path: str | Path, overrides: Iterable[str] = ()) -> ExperimentConfig:
    """Read a YAML config and apply `key.path=value` overrides (values parsed as YAML)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such config file")
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {raw!r}")
    raw = _resolve_paths(ExperimentConfig, raw, path.parent.resolve(), source=str(path))
    overrides = list(overrides)
    for override in overrides:
        _apply_override(raw, override)
    source = f"{path} with --set {' '.join(overrides)}" if overrides else str(path)
    return from_dict(ExperimentConfig, raw, source=source)


def _apply_override(raw: dict[str, Any], override: str) -> None:
    """Set raw[k1][k2]... = value for "k1.k2...=value", checking the key path exists."""
    key, sep, text = override.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {override!r}: expected key.path=value")
    parts = key.strip().split(".")
    cls: Any = ExperimentConfig
    node = raw
    for depth, name in enumerate(parts):
        hint = _field_types(cls, source="--set", prefix=".".join(parts[:depth])).get(name)
        if hint is None:
            raise ConfigError(f"--set: unknown key {key.strip()!r} ({_known(cls)})")
        if depth == len(parts) - 1:
            node[name] = _override_value(cls, name, hint, yaml.safe_load(text), key.strip())
            return
        cls = _dataclass_in(hint)
        if cls is None:
            raise ConfigError(f"--set: {'.'.join(parts[: depth + 1])!r} is not a section")
        child = node.get(name)
        if isinstance(child, str) and cls is SplitConfig:
            child = {"path": child}
        node[name] = child = dict(child) if isinstance(child, dict) else {}
        node = child


def _override_value(cls: Any, name: str, hint: Any, value: Any, key: str) -> Any:
    """Type-check a leaf --set value now (so errors blame --set); paths are cwd-relative."""
    if (sub := _dataclass_in(hint)) is not None:
        return _resolve_paths(sub, value, Path.cwd(), source="--set")
    value = _convert(hint, value, source="--set", key=key)
    if _is_path_field(cls, name) and isinstance(value, str):
        value = str(Path(value).resolve())
    return value


def _resolve_paths(cls: Any, raw: Any, base: Path, *, source: str) -> Any:
    """Copy of `raw` with relative path fields joined to `base` (the config file's folder)."""
    if isinstance(raw, str) and cls is SplitConfig:
        raw = {"path": raw}
    if not isinstance(raw, dict) or not dataclasses.is_dataclass(cls):
        return raw
    hints = _field_types(cls, source=source, prefix="")
    out = dict(raw)
    for name, value in raw.items():
        if name not in hints:
            continue  # reported as an unknown key by from_dict
        if _is_path_field(cls, name) and isinstance(value, str):
            out[name] = str((base / value).resolve())
        elif (sub := _dataclass_in(hints[name])) is not None:
            out[name] = _resolve_paths(sub, value, base, source=source)
    return out


def from_dict(cls: type, data: Any, *, source: str, prefix: str = "") -> Any:
    """Build dataclass `cls` from a mapping, checking keys and value types recursively."""
    where = prefix.rstrip(".") or "the top level"
    if cls is SplitConfig and isinstance(data, str):
        data = {"path": data}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: {where} must be a mapping, got {data!r}")
    hints = _field_types(cls, source=source, prefix=prefix)
    unknown = [key for key in data if key not in hints]
    if unknown:
        raise ConfigError(f"{source}: unknown key {prefix + str(unknown[0])!r} ({_known(cls)})")
    missing = [
        f.name
        for f in dataclasses.fields(cls)
        if f.name not in data
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ConfigError(f"{source}: missing required key {prefix + missing[0]!r}")
    defaults = {f.name: _default(f) for f in dataclasses.fields(cls)}
    values = {
        key: _convert(hints[key], _merge(defaults[key], value), source=source, key=prefix + key)
        for key, value in data.items()
    }
    try:
        return cls(**values)
    except ValueError as exc:
        raise ConfigError(f"{source}: {where}: {exc}") from exc


def _default(f: dataclasses.Field) -> Any:
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None if f.default is dataclasses.MISSING else f.default


def _merge(default: Any, value: Any) -> Any:
    """A partial section (`stage1: {lr: 0.01}`) keeps the section default's other values."""
    if not (dataclasses.is_dataclass(default) and isinstance(value, dict)):
        return value
    return _deep_update(dataclasses.asdict(default), value)


def _deep_update(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in update.items():
        both_dicts = isinstance(out.get(key), dict) and isinstance(value, dict)
        out[key] = _deep_update(out[key], value) if both_dicts else value
    return out


def _convert(hint: Any, value: Any, *, source: str, key: str) -> Any:
    """Check `value` against a field type: a dataclass section, `X | None`, `tuple[X, ...]`,
    a Literal, or a plain type (int accepted for float, bool never for int)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        return from_dict(hint, value, source=source, prefix=key + ".")
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for option in (a for a in args if a is not type(None)):
            try:
                return _convert(option, value, source=source, key=key)
            except ConfigError as exc:
                errors.append(exc)
        raise errors[0]
    if origin is tuple and isinstance(value, list | tuple):  # tuple[X, ...]: a YAML list
        return tuple(
            _convert(args[0], item, source=source, key=f"{key}[{i}]")
            for i, item in enumerate(value)
        )
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{source}: {key} must be one of {list(args)}, got {value!r}")
        return value
    if hint is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(hint, type) and _exact_instance(value, hint):
        return value
    raise ConfigError(f"{source}: {key} must be {_type_name(hint)}, got {value!r}")


def _exact_instance(value: Any, kind: type) -> bool:
    # bool is an int subclass: `epochs: true` must not pass as 1.
    return isinstance(value, kind) and not (isinstance(value, bool) and kind is not bool)


def _type_name(hint: Any) -> str:
    return getattr(hint, "__name__", str(hint))


def _field_types(cls: Any, *, source: str, prefix: str) -> dict[str, Any]:
    if not dataclasses.is_dataclass(cls):
        raise ConfigError(f"{source}: {prefix!r} is not a section")
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls) if f.init}


def _dataclass_in(hint: Any) -> Any:
    """The dataclass in `X` or `X | None`, else None."""
    if dataclasses.is_dataclass(hint):
        return hint
    return next((a for a in typing.get_args(hint) if dataclasses.is_dataclass(a)), None)


def _is_path_field(cls: Any, name: str) -> bool:
    return any(f.name == name and f.metadata.get("path") for f in dataclasses.fields(cls))


def _known(cls: Any) -> str:
    return "known keys: " + ", ".join(f.name for f in dataclasses.fields(cls) if f.init)

"""The typed configuration loader every config section shares.

A configuration is a tree of frozen dataclasses, each defined beside the code it configures
(`mmkp.data.config`, `mmkp.model.config`, `mmkp.decoding.config`, `mmkp.training.config`, ...).
`load_yaml(cls, path, overrides)` reads a YAML file, applies `--set key.path=value` overrides
and checks every key and type: an unknown key or a wrongly typed value is an error that names
the key and where it came from. Fields whose metadata is `PATH` are filesystem paths: relative
ones in a file are relative to that file, relative ones given with `--set` to the working
directory.

One hook: a section class may define `config_hook(raw) -> (cls, raw)` (a classmethod) to
rewrite its raw value before it is checked, e.g. a shorthand (a split given as a bare path),
a choice of subclass (a model config chosen by its `name`) or an older form (training's two
stage fields into its list of stages). A field `tuple[X, ...]` of a section X is a YAML list
of mappings; `--set` reaches into it by index or by an item's `name`.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml

# dataclass field metadata marking a filesystem path (resolved against the config file's folder).
PATH = {"path": True}
T = TypeVar("T")


class ConfigError(ValueError):
    """A configuration problem; the message names the source (file or --set) and the key."""


def load_yaml(cls: type[T], path: str | Path, overrides: Iterable[str] = ()) -> T:
    """Read a YAML config of dataclass `cls` and apply `key.path=value` overrides (values
    parsed as YAML)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such config file")
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {raw!r}")
    raw = _resolve_paths(cls, raw, path.parent.resolve(), source=str(path))
    overrides = list(overrides)
    for override in overrides:
        apply_override(cls, raw, override)
    source = f"{path} with --set {' '.join(overrides)}" if overrides else str(path)
    return from_dict(cls, raw, source=source)


def apply_override(root: type, raw: dict[str, Any], override: str) -> None:
    """Set raw[k1][k2]... = value for "k1.k2...=value", checking the key path exists.

    A list of sections (`tuple[X, ...]`) is entered by an item's index or `name`
    (`train.stages.0.epochs`, `train.stages.stage2.lr`); a section's `config_aliases` map a
    key to a key path (`train.stage1` -> `train.stages.stage1`)."""
    key, sep, text = override.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {override!r}: expected key.path=value")
    parts = key.strip().split(".")
    cls: Any = root
    node = raw
    depth = 0
    while True:
        where = ".".join(parts[:depth])
        cls, _ = _hook(cls, node, source="--set", key=where)
        parts[depth : depth + 1] = getattr(cls, "config_aliases", {}).get(
            parts[depth], [parts[depth]]
        )
        name = parts[depth]
        hint = _field_types(cls, source="--set", prefix=where).get(name)
        if hint is None:
            raise ConfigError(f"--set: unknown key {key.strip()!r} ({_known(cls)})")
        if depth == len(parts) - 1:
            node[name] = _override_value(cls, name, hint, yaml.safe_load(text), key.strip())
            return
        if (section := _dataclass_in(hint)) is not None:
            _, child = _hook(section, node.get(name), source="--set", key=key.strip())
            node[name] = child = dict(child) if isinstance(child, dict) else {}
            node, cls, depth = child, section, depth + 1
            continue
        item = _item_class(hint)
        if item is None or depth + 2 > len(parts) - 1:
            raise ConfigError(f"--set: {'.'.join(parts[: depth + 1])!r} is not a section")
        items = node.get(name)
        if items is None:  # not in the file: the field's default list
            items = _jsonable([dataclasses.asdict(x) for x in _default(_field(cls, name))])
        if not isinstance(items, list | tuple):
            raise ConfigError(
                f"--set: {'.'.join(parts[: depth + 1])} must be a list, got {items!r}"
            )
        node[name] = items = [dict(i) if isinstance(i, dict) else i for i in items]
        index = _item_index(items, parts[depth + 1], key=".".join(parts[: depth + 1]))
        node, cls, depth = items[index], item, depth + 2


def _item_index(items: list[Any], selector: str, *, key: str) -> int:
    """The position of the item `selector` names: its index, or the item whose name it is."""
    names = [item.get("name") if isinstance(item, dict) else None for item in items]
    if selector.isdigit() and int(selector) < len(items):
        return int(selector)
    if selector in names:
        return names.index(selector)
    raise ConfigError(
        f"--set: {key} has no item {selector!r} (indices 0-{len(items) - 1}, names {names})"
    )


def from_dict(cls: type[T], data: Any, *, source: str, prefix: str = "") -> T:
    """Build dataclass `cls` from a mapping, checking keys and value types recursively."""
    where = prefix.rstrip(".") or "the top level"
    cls, data = _hook(cls, data, source=source, key=prefix.rstrip("."))
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: {where} must be a mapping, got {data!r}")
    hints = _field_types(cls, source=source, prefix=prefix)
    unknown = [key for key in data if key not in hints]
    if unknown:
        raise ConfigError(f"{source}: unknown key {prefix + str(unknown[0])!r} ({_known(cls)})")
    missing = [
        f.name
        for f in dataclasses.fields(cls)
        if f.init
        and f.name not in data
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ConfigError(f"{source}: missing required key {prefix + missing[0]!r}")
    defaults = {f.name: _default(f) for f in dataclasses.fields(cls)}
    values = {
        key: _convert(
            hints[key],
            _merge(defaults[key], value, source=source, key=prefix + key),
            source=source,
            key=prefix + key,
        )
        for key, value in data.items()
    }
    try:
        return cls(**values)
    except ValueError as exc:
        raise ConfigError(f"{source}: {where}: {exc}") from exc


def to_dict(config: Any) -> dict[str, Any]:
    """The JSON form of a config (tuples as lists), as written to config.json files."""
    return _jsonable(dataclasses.asdict(config))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    return value


def _hook(cls: Any, raw: Any, *, source: str, key: str) -> tuple[Any, Any]:
    """(class, raw value) after the section's `config_hook`, if it has one."""
    hook = getattr(cls, "config_hook", None)
    if hook is None:
        return cls, raw
    try:
        return hook(raw)
    except ValueError as exc:
        raise ConfigError(f"{source}: {key or 'the top level'}: {exc}") from exc


def _override_value(cls: Any, name: str, hint: Any, value: Any, key: str) -> Any:
    """Type-check a leaf --set value now (so errors blame --set); paths are cwd-relative."""
    if (sub := _dataclass_in(hint)) is not None:
        return _resolve_paths(sub, value, Path.cwd(), source="--set")
    if (item := _item_class(hint)) is not None and isinstance(value, list):
        return [_resolve_paths(item, v, Path.cwd(), source="--set") for v in value]
    value = _convert(hint, value, source="--set", key=key)
    if _is_path_field(cls, name) and isinstance(value, str):
        value = str(Path(value).resolve())
    return value


def _resolve_paths(cls: Any, raw: Any, base: Path, *, source: str) -> Any:
    """Copy of `raw` with relative path fields joined to `base` (the config file's folder)."""
    if not dataclasses.is_dataclass(cls):
        return raw
    cls, raw = _hook(cls, raw, source=source, key="")
    if not isinstance(raw, dict):
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
        elif (item := _item_class(hints[name])) is not None and isinstance(value, list):
            out[name] = [_resolve_paths(item, v, base, source=source) for v in value]
    return out


def _default(f: dataclasses.Field) -> Any:
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None if f.default is dataclasses.MISSING else f.default


def _merge(default: Any, value: Any, *, source: str, key: str) -> Any:
    """A partial section (`stage1: {lr: 0.01}`) keeps the section default's other values,
    unless the section's hook picks another class for it (then its own defaults apply)."""
    if not (dataclasses.is_dataclass(default) and isinstance(value, dict)):
        return value
    chosen, hooked = _hook(type(default), value, source=source, key=key)
    if chosen is not type(default):
        return value
    return _deep_update(dataclasses.asdict(default), hooked)


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
    if typing.get_origin(hint) not in (typing.Union, types.UnionType):
        return None  # e.g. tuple[X, ...]: a list of sections (_item_class)
    return next((a for a in typing.get_args(hint) if dataclasses.is_dataclass(a)), None)


def _item_class(hint: Any) -> Any:
    """The dataclass X of a list of sections `tuple[X, ...]`, else None."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) is tuple and args and dataclasses.is_dataclass(args[0]):
        return args[0]
    return None


def _field(cls: Any, name: str) -> dataclasses.Field:
    return next(f for f in dataclasses.fields(cls) if f.name == name)


def _is_path_field(cls: Any, name: str) -> bool:
    return any(f.name == name and f.metadata.get("path") for f in dataclasses.fields(cls))


def _known(cls: Any) -> str:
    return "known keys: " + ", ".join(f.name for f in dataclasses.fields(cls) if f.init)

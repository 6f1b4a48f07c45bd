"""The per-request decode settings, derived from `DecodeConfig` in this one place.

Every `DecodeConfig` field marked `request_field` (mmkp.decoding.config) becomes an optional
request field of the same name, type, bounds and description: in the JSON bodies (a Pydantic
model made with `create_model`), in the forms (`form_value`, `form_properties`) and so in
the OpenAPI schema. A new request-overridable setting is one `request_field` in DecodeConfig.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

from pydantic import BaseModel, Field, create_model, field_validator

from mmkp.decoding.config import REQUEST, DecodeConfig


def _without_none(hint: Any) -> Any:
    """`X` of `X | None` (the request's None already means: the model's setting)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        (kind,) = [a for a in typing.get_args(hint) if a is not type(None)]
        return kind
    return hint


def request_types(config: type = DecodeConfig) -> dict[str, Any]:
    """The request fields of a decode config class and their types (without None), in order."""
    hints = typing.get_type_hints(config)
    fields = dataclasses.fields(config)
    return {f.name: _without_none(hints[f.name]) for f in fields if REQUEST in f.metadata}


TYPES = request_types()
FIELDS = tuple(TYPES)


def _json_integer(cls: type, value: Any) -> Any:
    """A JSON Schema integer: 6 or 6.0, not `true` or "6" (forms convert their text first)."""
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise ValueError(f"expected an integer, got {value!r}")


def _strict(kind: Any) -> dict[str, bool]:
    """Pydantic's strict mode for the scalars that have it (choices check themselves)."""
    return {"strict": True} if kind in (bool, float, str) else {}


def overrides_model(base: type[BaseModel], config: type = DecodeConfig) -> type[BaseModel]:
    """`DecodeOverrides` on `base`: each request field optional (None: the model's setting).
    Integers take the JSON-integer check above; other scalars are strict (no "0.5" for 0.5)."""
    kinds = request_types(config)
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(config):
        if f.name in kinds:
            kind = kinds[f.name]
            fields[f.name] = (kind | None, Field(None, **_strict(kind), **f.metadata[REQUEST]))
    integers = [name for name, kind in kinds.items() if kind is int]
    validators = {"_json_integer": field_validator(*integers, mode="before")(_json_integer)}
    return create_model(  # type: ignore[call-overload, no-any-return]
        "DecodeOverrides",
        __base__=base,
        __doc__="Decode settings a request may change (DecodeConfig's request fields).",
        __validators__=validators if integers else {},
        **fields,
    )


def form_value(name: str, text: str, types: dict[str, Any] = TYPES) -> Any:
    """A form field's text as its JSON value; ValueError naming the field when it is not one."""
    kind, value = types[name], text.strip()
    if kind is int:
        if not value.isdigit():
            raise ValueError(f"{name}: not a whole number: {value!r}")
        return int(value)
    if kind is float:
        try:
            return float(value)
        except ValueError:
            raise ValueError(f"{name}: not a number: {value!r}") from None
    if kind is bool:
        if value.lower() not in ("true", "false"):
            raise ValueError(f"{name}: expected true or false, got {value!r}")
        return value.lower() == "true"
    return text  # strings and choices: the model checks them


def form_properties(model: type[BaseModel], config: type = DecodeConfig) -> dict[str, Any]:
    """The request fields' JSON schemas as form fields: a form sends text, never null."""
    names = request_types(config)
    out = {}
    for name, schema in model.model_json_schema()["properties"].items():
        if name in names:
            (value,) = [s for s in schema["anyOf"] if s.get("type") != "null"]
            out[name] = {**value, "description": schema["description"]}
    return out

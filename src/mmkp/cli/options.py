"""Command-line options derived from a config dataclass, so no field is declared twice.

`add_config_options(parser, DecodeConfig, "decode")` adds one `--field-name` option per field
(choices from a Literal, `--x/--no-x` for a bool) and `--set decode.field=value`;
`config_from_options(current, args, "decode")` applies what was given on top of `current`
through the config loader, so values are checked and errors named as in a YAML file.
"""

from __future__ import annotations

import argparse
import dataclasses
import typing
from typing import Any, Literal, TypeVar

import yaml

from mmkp.config_loader import ConfigError, from_dict, to_dict

T = TypeVar("T")


def add_model_and_posts(
    parser: argparse.ArgumentParser, *, input_help: str, ensemble: bool = False
) -> None:
    """`--model DIR` and one of `--text "..."` (one raw post) or `--input FILE`; with
    `ensemble`, `--model` may be repeated (a list of directories, decoded as one model)."""
    if ensemble:
        parser.add_argument(
            "--model",
            required=True,
            action="append",
            help="checkpoint directory; repeat it for an ensemble of models trained with the "
            "same data and vocabulary config (e.g. seeds): one beam search averaging their "
            "step log-probabilities, with the first model's decode settings",
        )
    else:
        parser.add_argument("--model", required=True, help="checkpoint directory")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--input", help=input_help)
    source.add_argument("--text", help="one raw post text")


def add_device_option(parser: argparse.ArgumentParser) -> None:
    """`--device`, checked where it is used (mmkp.devices), so `--help` loads no torch."""
    parser.add_argument(
        "--device",
        metavar="DEVICE",
        help="cpu (default), cuda, cuda:N, or auto (cuda when torch sees a GPU, else cpu)",
    )


def add_config_options(parser: argparse.ArgumentParser, cls: type, section: str) -> None:
    group = parser.add_argument_group(f"{section} settings (default: the model's own)")
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        flag = "--" + f.name.replace("_", "-")
        hint = hints[f.name]
        kwargs: dict[str, Any] = {"dest": f"{section}__{f.name}", "default": None}
        if hint is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        elif typing.get_origin(hint) is Literal:
            kwargs["choices"] = typing.get_args(hint)
        else:
            kwargs["type"] = _scalar_type(hint)
        group.add_argument(flag, help=f"{section}.{f.name}", **kwargs)
    group.add_argument(
        "--set",
        dest=f"{section}__overrides",
        action="append",
        default=[],
        metavar=f"{section.upper()}.KEY=VALUE",
        help=f"set a {section} value, e.g. --set {section}.beam_size=5 (repeatable)",
    )


def config_from_options(current: T, args: argparse.Namespace, section: str) -> T:
    """`current` with the section's options and `--set` values of `args` applied."""
    raw = to_dict(current)
    for f in dataclasses.fields(current):  # type: ignore[arg-type]
        value = getattr(args, f"{section}__{f.name}")
        if value is not None:
            raw[f.name] = value
    for override in getattr(args, f"{section}__overrides"):
        key, sep, text = override.partition("=")
        prefix, dot, name = key.strip().partition(".")
        if not sep or prefix != section or not dot:
            raise ConfigError(f"--set {override!r}: expected {section}.key=value")
        raw[name] = yaml.safe_load(text)
    return from_dict(type(current), raw, source="the command line", prefix=f"{section}.")


def _scalar_type(hint: Any) -> Any:
    """The argparse type of `X` or `X | None`."""
    options = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
    return options[0]

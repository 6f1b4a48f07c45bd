"""`mmkp` entry point. Every module in mmkp.cli with a `register(subparsers)` adds a command."""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys

import mmkp
import mmkp.cli


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mmkp", description=mmkp.__doc__)
    parser.add_argument("--version", action="version", version=f"mmkp {mmkp.__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for info in sorted(pkgutil.iter_modules(mmkp.cli.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"mmkp.cli.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.run(args) or 0)
    except (FileNotFoundError, ValueError) as exc:
        print(f"mmkp {args.command}: error: {exc}", file=sys.stderr)
        return 2

"""`mmkp` entry point. Every module in mmkp.cli with a `register(subparsers)` adds a command.

This is the commands' one error boundary; each command ends with one line on stderr and an
exit code (docs/data.md, "Input errors"):

    0    done (problems with single records are reported and skipped)
    1    internal error: a bug; `mmkp --debug COMMAND ...` prints the traceback
    2    the input, a path, the configuration or the environment (disk full, permissions)
         stopped the run; the line names the file and the problem
    130  interrupted (Ctrl-C): finished work is kept, the line says how to resume

A command may set `interrupted` (parser default) to the line that says how to resume it.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import logging
import os
import pkgutil
import sys
import traceback

import yaml
from safetensors import SafetensorError

import mmkp
import mmkp.cli

EXIT_INTERNAL, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 1, 2, 130
# What a user's input, paths or machine can cause: named in one line, exit 2.
BAD_INPUT = (ValueError, OSError, SafetensorError, yaml.YAMLError)
NOTHING_HALF_WRITTEN = "outputs are only ever replaced whole, so nothing is half-written"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mmkp", description=mmkp.__doc__)
    parser.add_argument("--version", action="version", version=f"mmkp {mmkp.__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument(
        "--debug", action="store_true", help="print the traceback of an error, not one line"
    )
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
    except KeyboardInterrupt:
        hint = getattr(args, "interrupted", None) or NOTHING_HALF_WRITTEN
        return _fail(args, f"interrupted; {hint}", EXIT_INTERRUPTED)
    except BrokenPipeError:
        # The reader of stdout went away (`mmkp ... | head`): nothing more to say to it.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BAD_INPUT
    except BAD_INPUT as exc:
        return _fail(args, f"error: {describe(exc)}", EXIT_BAD_INPUT)
    except Exception as exc:
        line = f"internal error: {type(exc).__name__}: {describe(exc)}"
        if not args.debug:
            line += f" (rerun as `mmkp --debug {args.command} ...` for the traceback)"
        return _fail(args, line, EXIT_INTERNAL)


def _fail(args: argparse.Namespace, line: str, code: int) -> int:
    if args.debug:
        traceback.print_exc()
    print(f"mmkp {args.command}: {line}", file=sys.stderr)
    return code


def describe(exc: BaseException) -> str:
    """An exception as one line: an OSError as `path: problem`, other messages unwrapped."""
    if isinstance(exc, OSError) and exc.strerror and exc.filename is not None:
        target = f" -> {exc.filename2}" if exc.filename2 is not None else ""
        text = f"{exc.filename}{target}: {exc.strerror}"
    else:
        text = str(exc) or type(exc).__name__
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        text += " (no room left to write: free space and rerun; finished work is kept)"
    return "; ".join(line.strip() for line in text.splitlines() if line.strip())

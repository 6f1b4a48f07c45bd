"""`mmkp` entry point. `COMMANDS` names each command's module in mmkp.cli and its one-line
help; only the invoked command's module is imported, and its `register(subparsers)` builds its
parser, so `mmkp --help` and every command start without loading what other commands need
(each module keeps its heavy imports inside `run`; docs/architecture.md, "The CLI starts
light").

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
import sys
import traceback
from collections.abc import Sequence

import yaml
from safetensors import SafetensorError

import mmkp

EXIT_INTERNAL, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 1, 2, 130
# What a user's input, paths or machine can cause: named in one line, exit 2.
BAD_INPUT = (ValueError, OSError, SafetensorError, yaml.YAMLError)
NOTHING_HALF_WRITTEN = "outputs are only ever replaced whole, so nothing is half-written"

# command -> (module in mmkp.cli, the one-line help `mmkp --help` lists; the module's
# `register` repeats it for its own parser, tests/cli/test_lazy.py checks the two agree).
COMMANDS: dict[str, tuple[str, str]] = {
    "average": ("average", "average the weights of model directories trained alike (e.g. seeds)"),
    "baseline": ("baseline", "predict keyphrases with a non-neural baseline"),
    "benchmark": (
        "benchmark",
        "train and score every system of the paper's Table 1 (or 2) into one table",
    ),
    "compare": ("compare", "paired bootstrap significance test between two prediction files"),
    "convert": ("convert", "convert posts between JSONL, ocr_kw, CMKP src and TRC csv"),
    "demo": ("demo", "generate data, run every system that exists, print their test scores"),
    "evaluate": ("evaluate", "score predictions: P/R/F1@1,3,5, MAP@5, present/absent F1@1,3"),
    "explain": ("explain", "draw the paper's case figure (Fig. 3) for a post or a posts file"),
    "generate-data": (
        "generate_data",
        "write generated multimodal posts (train/dev/test JSONL + images)",
    ),
    "predict": ("predict", "generate keyphrases with a trained model (a posts file, or --text)"),
    "prepare": (
        "prepare",
        "read every post's image: OCR text, visual entities, 7x7 grid features",
    ),
    "serve": (
        "serve",
        "HTTP API and web page for a trained model (mmkp serve --help for the options)",
    ),
    "train": ("train", "train MM-MKP (stage 1: L_itm + L_irtm + L_cla; stage 2: generation)"),
}


def invoked_command(argv: Sequence[str]) -> str | None:
    """The command named in `argv`: its first word that is not an option (the top-level
    options take no values), or None when there is none or it is no command."""
    word = next((arg for arg in argv if not arg.startswith("-")), None)
    return word if word in COMMANDS else None


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The `mmkp` parser: every command listed, only `command`'s own parser built (its module
    imported); the others are bare entries, enough for `mmkp --help` and to name a choice."""
    parser = argparse.ArgumentParser(prog="mmkp", description=mmkp.__doc__)
    parser.add_argument("--version", action="version", version=f"mmkp {mmkp.__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument(
        "--debug", action="store_true", help="print the traceback of an error, not one line"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module, help_line) in COMMANDS.items():
        if name == command:
            importlib.import_module(f"mmkp.cli.{module}").register(subparsers)
        else:
            subparsers.add_parser(name, help=help_line)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(invoked_command(argv)).parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    code = _run(args)
    if os.environ.get("RANK") is not None:  # a torchrun rank: no interpreter finalisation
        from mmkp.training.distributed import end_rank

        end_rank(code)
    return code


def _run(args: argparse.Namespace) -> int:
    """The command's exit status; an error becomes one line on stderr and its status."""
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

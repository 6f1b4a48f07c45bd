"""`mmkp serve`: the HTTP API and web page for a trained model (needs the `serve` extra).

mmkp serve --model runs/demo/mm-mkp/model [--host 127.0.0.1] [--port 8000] [--workers N]

The service is its own top layer beside the CLI (the import contract keeps the two apart), so
this command only hands its arguments to `python -m mmkp.serve`, which owns the options
(`mmkp serve --help` shows them) and replaces this process: signals reach uvicorn directly.
"""

from __future__ import annotations

import argparse
import os
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="HTTP API and web page for a trained model (mmkp serve --help for the options)",
        add_help=False,  # --help goes to `python -m mmkp.serve` with everything else
        prefix_chars="+",  # so `--model DIR` etc. are passed on, not parsed here
    )
    parser.add_argument("arguments", nargs=argparse.REMAINDER)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    command = [sys.executable, "-m", "mmkp.serve", *args.arguments]
    os.execv(sys.executable, command)  # returns only by raising OSError
    return 1

"""`mmkp demo`: the whole system end to end on generated data, then a table of test scores.

The experiment itself lives in `mmkp.experiments.demo`; this edge parses the arguments and
prints each step's progress, one short line per training epoch and the final table. Every log
record (the training recipe's full epoch rows, warnings) goes to OUT/demo.log instead of the
terminal, which shows errors only and, at the end, how many warnings the log holds.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mmkp.experiments.demo import StepDone

LOG_FILE = "demo.log"  # in the run folder


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="generate data, run every system that exists, print their test scores",
        description="End to end on generated multimodal data; scores are on its test split.",
    )
    parser.add_argument("--out", default="runs/demo", help="run folder (default runs/demo)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train", type=int, default=600, help="training posts (default 600)")
    parser.add_argument("--dev", type=int, default=150, help="dev posts (default 150)")
    parser.add_argument("--test", type=int, default=150, help="test posts (default 150)")
    parser.add_argument(
        "--itm", type=int, default=300, help="TRC-style text-image pairs for L_itm (default 300)"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mmkp.experiments.demo import DemoState, format_table, run_demo

    sizes = (args.train, args.dev, args.test)
    out = Path(args.out)
    state = DemoState(out, args.seed, sizes, n_itm=args.itm, on_epoch=_print_epoch, progress=True)
    with logged_to(out / LOG_FILE) as warnings:
        scores_path = run_demo(state, on_step=print_step)
    print(f"log: {out / LOG_FILE} ({warnings.count} warnings)")
    print(f"\ntest scores in percent ({len(state.test)} posts; {scores_path}):")
    print(format_table(state.scores))
    return 0


def _print_epoch(line: str) -> None:
    from tqdm import tqdm  # the CLI imports what a command needs when it runs

    tqdm.write(f"  {line}")  # above a progress bar when one is shown


class _Counter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


@contextmanager
def logged_to(path: Path) -> Iterator[_Counter]:
    """Send every log record to `path` and only errors to the terminal while the block runs;
    yields the count of warnings logged."""
    root = logging.getLogger()
    path.parent.mkdir(parents=True, exist_ok=True)
    to_file = logging.FileHandler(path, mode="w", encoding="utf-8")
    to_file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    counter = _Counter()
    consoles = [h for h in root.handlers if isinstance(h, logging.StreamHandler)]
    levels = [h.level for h in consoles]
    for handler in consoles:
        handler.setLevel(logging.ERROR)
    root.addHandler(to_file)
    root.addHandler(counter)
    level = root.level
    root.setLevel(min(level, logging.INFO))  # the file gets INFO whatever the caller set
    try:
        yield counter
    finally:
        root.setLevel(level)
        root.removeHandler(to_file)
        root.removeHandler(counter)
        to_file.close()
        for handler, level in zip(consoles, levels, strict=True):
            handler.setLevel(level)


def print_step(done: StepDone) -> None:
    if done.note:
        print(f"  {done.note}")
    print(f"[{done.number}/{done.total}] {done.name} ({done.seconds:.1f}s)")

"""`mmkp demo`: the whole system end to end on generated data, then a table of test scores.

The experiment itself lives in `mmkp.experiments.demo`; this edge parses the arguments and
prints each step's progress and the final table.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mmkp.experiments.demo import StepDone


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
    state = DemoState(Path(args.out), args.seed, sizes, n_itm=args.itm)
    scores_path = run_demo(state, on_step=print_step)
    print(f"\ntest scores in percent ({len(state.test)} posts; {scores_path}):")
    print(format_table(state.scores))
    return 0


def print_step(done: StepDone) -> None:
    if done.note:
        print(f"  {done.note}")
    print(f"[{done.number}/{done.total}] {done.name} ({done.seconds:.1f}s)")

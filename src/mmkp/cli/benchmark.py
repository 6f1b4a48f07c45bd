"""`mmkp benchmark --suite table1 --data real|generated --seeds 3 --out DIR`: train and score
every system of a suite, resumably, and write DIR/table.md, table.csv and table.png.

The benchmark itself lives in `mmkp.experiments.benchmark`; this edge parses the arguments,
prints each run's progress and the final table.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from mmkp.experiments.benchmark.generated import GeneratedData
from mmkp.experiments.benchmark.suite import DATA_KINDS, load_suite, packaged_suites

if TYPE_CHECKING:
    from mmkp.experiments.benchmark.runner import Progress


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "benchmark",
        help="train and score every system of the paper's Table 1 (or 2) into one table",
        description="Each (system, seed) trains in its own single-thread process, --jobs side "
        "by side; finished runs are kept, so rerunning the command continues. Systems that "
        "cannot run on the data are listed with the reason (docs/benchmark.md).",
    )
    parser.add_argument(
        "--suite",
        default="table1",
        help=f"a packaged suite ({', '.join(packaged_suites())}) or a suite .yaml file",
    )
    parser.add_argument("--data", choices=DATA_KINDS, default="real")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 1..N per system (default 3)")
    parser.add_argument("--out", help="run folder (default runs/benchmark-<suite>-<data>)")
    parser.add_argument("--systems", help="only these systems (their keys, comma-separated)")
    parser.add_argument("--quick", action="store_true", help="one seed, a few epochs")
    parser.add_argument("--jobs", type=int, default=2, help="runs side by side (default 2)")
    parser.add_argument(
        "--device", help="train every run on this device: auto, cpu, cuda or cuda:N"
    )
    parser.add_argument(
        "--root",
        default=".",
        help="project root the suite's config paths start from (default: here)",
    )
    parser.add_argument(
        "--no-train", action="store_true", help="only tabulate the runs that finished"
    )
    sizes = parser.add_argument_group("generated data (--data generated; as `mmkp demo`)")
    sizes.add_argument("--data-seed", type=int, default=GeneratedData.seed)
    sizes.add_argument("--train", type=int, default=GeneratedData.train, help="training posts")
    sizes.add_argument("--dev", type=int, default=GeneratedData.dev, help="dev posts")
    sizes.add_argument("--test", type=int, default=GeneratedData.test, help="test posts")
    sizes.add_argument("--itm", type=int, default=GeneratedData.itm, help="pairs for L_itm")
    parser.set_defaults(
        run=run,
        interrupted="finished runs are kept and an interrupted one resumes: rerun the command",
    )


def run(args: argparse.Namespace) -> int:
    from mmkp.experiments.benchmark.experiment import BenchmarkOptions, run_benchmark

    if args.seeds < 1 or args.jobs < 1:
        raise ValueError(f"--seeds and --jobs must be at least 1, got {args.seeds}, {args.jobs}")
    root = Path(args.root)
    if not (root / "configs").is_dir():
        raise ValueError(
            f"{root.resolve()}: no configs/ folder; run from the mmkp checkout or pass --root"
        )
    suite = load_suite(args.suite)
    if args.systems:
        suite = suite.select([key.strip() for key in args.systems.split(",") if key.strip()])
    out = Path(args.out or f"runs/benchmark-{Path(args.suite).stem}-{args.data}")
    options = BenchmarkOptions(
        out=out,
        data=args.data,
        seeds=tuple(range(1, args.seeds + 1)),
        quick=args.quick,
        device=args.device,
        workers=args.jobs,
        root=root,
        train=not args.no_train,
        generated=GeneratedData(args.data_seed, args.train, args.dev, args.test, args.itm),
    )
    result = run_benchmark(suite, options, on_progress=print_progress, on_note=print)
    print()
    print(result.files[0].read_text(encoding="utf-8"))
    print("written: " + ", ".join(str(path) for path in result.files))
    if result.failures:
        print(
            f"mmkp benchmark: {len(result.failures)} runs failed (see the notes)", file=sys.stderr
        )
        return 1
    return 0


def print_progress(progress: Progress) -> None:
    where = f"[{progress.finished}/{progress.total}]"
    if progress.event == "start":
        print(f"{where} started {progress.job.label} (log: {progress.job.run_dir / 'log.txt'})")
        return
    took = f" in {progress.seconds:.0f}s" if progress.seconds is not None else ""
    print(f"{where} {progress.event} {progress.job.label}{took}: {progress.message}", flush=True)

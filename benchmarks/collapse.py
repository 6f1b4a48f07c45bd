"""Does a command hold up when another CPU-bound process shares the machine? (issue 21)

Each command runs twice, alternating: alone, then beside a busy loop (one Python process
spinning on one core for the whole run). The table gives each run's wall clock, the ratio
busy / alone (the target: at most 1.5x for the default thread policy) and the 1-minute load
average when each run started, so a figure made on a machine that was not otherwise idle says
so.

    PYTHONPATH=src .venv/bin/python benchmarks/collapse.py --out runs/collapse \
        --demo --train runs/demo/config.yaml --predict runs/real-seed1/model \
        --posts ../../shared/data/cmkp/valid_ocr_kw.txt --threads 1 2

`--demo`: `mmkp demo` as committed (its config's thread setting). `--train CONFIG`: `mmkp
train` of that config, once per `--threads` value. `--predict MODEL --posts FILE`: `mmkp
predict` of the file's posts 4,771-5,370 (the agreed dev split), once per `--threads` value.
The table goes to stdout and OUT/collapse.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from mmkp.io import write_text_atomic

BUSY_LOOP = "while True: pass"


@dataclass(frozen=True)
class Case:
    name: str
    argv: list[str]  # arguments after `mmkp`; "{run}" becomes the run's own folder


@dataclass(frozen=True)
class Timing:
    seconds: float
    load: float  # 1-minute load average when the run started


def run(case: Case, folder: Path, *, busy: bool) -> Timing:
    folder.mkdir(parents=True, exist_ok=True)
    argv = [arg.replace("{run}", str(folder)) for arg in case.argv]
    load = os.getloadavg()[0]
    spinner = subprocess.Popen([sys.executable, "-c", BUSY_LOOP]) if busy else None
    try:
        start = time.perf_counter()
        with (folder / "output.log").open("w") as log:
            done = subprocess.run(
                [sys.executable, "-m", "mmkp", *argv], stdout=log, stderr=subprocess.STDOUT
            )
        seconds = time.perf_counter() - start
    finally:
        if spinner is not None:
            spinner.kill()
            spinner.wait()
    if done.returncode != 0:
        raise SystemExit(f"{case.name}: `mmkp {' '.join(argv)}` failed, see {folder}/output.log")
    return Timing(seconds, load)


def cases(args: argparse.Namespace) -> list[Case]:
    found = [Case("mmkp demo (as committed)", ["demo", "--out", "{run}"])] if args.demo else []
    for threads in args.threads:
        if args.train:
            found.append(
                Case(
                    f"mmkp train {args.train.name}, {threads} thread(s)",
                    [
                        *("train", "--config", str(args.train), "--out", "{run}"),
                        *("--set", f"train.threads={threads}"),
                    ],
                )
            )
        if args.predict:
            found.append(
                Case(
                    f"mmkp predict, 600 dev posts, {threads} thread(s)",
                    [
                        *("predict", "--model", str(args.predict), "--input", "{run}/dev.txt"),
                        *("--out", "{run}/predictions.jsonl", "--threads", str(threads)),
                    ],
                )
            )
    return found


def write_dev_posts(posts: Path, folder: Path) -> None:
    """The agreed dev split (lines 4,771-5,370) as its own file, so predict reads only it."""
    lines = posts.read_text(encoding="utf-8").splitlines(keepends=True)[4770:5370]
    folder.mkdir(parents=True, exist_ok=True)
    write_text_atomic(folder / "dev.txt", "".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--demo", action="store_true")
    parser.add_argument("--train", type=Path, help="a config to time `mmkp train` with")
    parser.add_argument("--predict", type=Path, help="a model directory to time predict with")
    parser.add_argument("--posts", type=Path, help="with --predict: the CMKP valid split file")
    parser.add_argument("--threads", type=int, nargs="+", default=[1])
    args = parser.parse_args()
    if args.predict and not args.posts:
        parser.error("--predict needs --posts")

    columns = [
        "command",
        "alone (s)",
        "beside a busy loop (s)",
        "ratio",
        "load at start (alone / busy)",
    ]
    rows = ["| " + " | ".join(columns) + " |"]
    rows.append("|---|---:|---:|---:|---|")
    for index, case in enumerate(cases(args)):
        timings = {}
        for busy in (False, True):
            folder = args.out / f"{index}-{'busy' if busy else 'alone'}"
            if args.predict and case.argv[0] == "predict":
                write_dev_posts(args.posts, folder)
            timings[busy] = run(case, folder, busy=busy)
            print(f"{case.name}, {'busy' if busy else 'alone'}: {timings[busy].seconds:.1f} s")
        alone, beside = timings[False], timings[True]
        rows.append(
            f"| {case.name} | {alone.seconds:.1f} | {beside.seconds:.1f} | "
            f"{beside.seconds / alone.seconds:.2f}x | {alone.load:.2f} / {beside.load:.2f} |"
        )
    table = "\n".join(rows) + "\n"
    print(table)
    write_text_atomic(args.out / "collapse.md", table)


if __name__ == "__main__":
    main()

"""Cold start of the `mmkp` command: a fresh interpreter per run, as a user types it.

    .venv/bin/python benchmarks/cold_start.py [--model DIR] [--runs 5]

Times `mmkp --help`, `mmkp predict --help` and `mmkp predict --model DIR --text "..."` (each
`python -m mmkp ...`, what the `mmkp` script runs), median of --runs runs each, with the
machine's load average beside (timings on a shared machine move with its load). Without
--model, a tiny text-only model is trained first with configs/tiny.yaml (seconds) in a
temporary folder. Files are in the page cache after the first run: this is a new process, not
a cold disk.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEXT = "So excited to see these two at #KCA tomorrow!"


def mmkp(*argv: str) -> list[str]:
    return [sys.executable, "-m", "mmkp", *argv]


def seconds(command: list[str]) -> tuple[float, float]:
    """Wall-clock and CPU (user + sys) seconds of one run; CPU time moves less with the load."""
    cpu = _children_cpu()
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start, _children_cpu() - cpu


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def train_tiny(out: Path) -> Path:
    config = ROOT / "configs" / "tiny.yaml"
    subprocess.run(
        mmkp("train", "--config", str(config), "--out", str(out)),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return out / "model"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a model directory (default: train configs/tiny.yaml)")
    parser.add_argument("--runs", type=int, default=5, help="runs per command (default 5)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or str(train_tiny(Path(tmp) / "tiny"))
        commands = {
            "mmkp --help": mmkp("--help"),
            "mmkp predict --help": mmkp("predict", "--help"),
            'mmkp predict --model DIR --text "..."': mmkp(
                "predict", "--model", model, "--text", TEXT
            ),
        }
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; model: {model}")
        print(
            "| command | median s | min s | max s | median CPU s | "
            "load avg (1/5/15 min) before -> after |"
        )
        print("|---|---|---|---|---|---|")
        for name, command in commands.items():
            seconds(command)  # once unmeasured, so every measured run finds files cached
            before = load()
            runs = [seconds(command) for _ in range(args.runs)]
            wall = [w for w, _ in runs]
            cpu = statistics.median(c for _, c in runs)
            print(
                f"| `{name}` | {statistics.median(wall):.2f} | {min(wall):.2f} | "
                f"{max(wall):.2f} | {cpu:.2f} | {before} -> {load()} |",
                flush=True,
            )


if __name__ == "__main__":
    main()

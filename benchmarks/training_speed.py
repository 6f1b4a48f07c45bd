"""Training throughput of the whole recipe (data, model, optimiser) on the benchmark split.

Runs `mmkp train` with configs/cmkp.yaml for one epoch per stage (dev loss only, no decoding)
and reports pairs/s per stage, seconds per epoch and the peak resident memory.

    .venv/bin/python benchmarks/training_speed.py [--threads 2] [--set KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from mmkp.training.config import load_config
from mmkp.training.pipeline import run_training

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "cmkp.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args()
    overrides = [
        "train.stages.stage1.epochs=1",
        "train.stages.stage2.epochs=1",
        "train.stages.stage1.monitor=loss",
        "train.stages.stage2.monitor=loss",
        f"train.threads={args.threads}",
        *args.overrides,
    ]
    config = load_config(CONFIG, overrides)
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        run = run_training(config, out)
        total = time.perf_counter() - start
    print(f"config: {CONFIG.name} with {' '.join(overrides)}")
    print("| stage | pairs/s | pairs | epoch s |")
    print("|---|---:|---:|---:|")
    for stage, rows in run.history.items():
        row = rows[0]
        print(
            f"| {stage} | {row['train_pairs_per_s']:.0f} | {row['train_pairs']} "
            f"| {row['train_seconds']:.0f} |"
        )
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"total {total:.0f} s including data, dev passes and final dev decoding")
    print(f"peak RSS {peak_mib:.0f} MiB")


if __name__ == "__main__":
    main()

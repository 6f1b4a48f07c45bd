"""F1@1 per kind of generated post for checkpoints (e.g. copies of a run's stage1/last taken
after each epoch), on one split of the prepared generated data:

    python benchmarks/filter/checkpoint_kinds.py /work/runs/filter-data/generated/prepared dev \
        CKPT [CKPT ...]

Each checkpoint predicts the split from the prepared feature store (`mmkp predict`, one
thread); the scores are `mmkp.experiments.kinds.score_by_kind`'s, as every generated-data
table reports them (benchmarks/RESULTS.md, "Noise filter on image text (issue 24)").
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from mmkp.data.config import SplitConfig
from mmkp.evaluation.prediction_files import read_predictions
from mmkp.experiments.kinds import score_by_kind
from mmkp.training.data import load_split

METRIC = "F1@1"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("prepared", type=Path, help="the prepared folder (splits + features)")
    parser.add_argument("split", choices=["dev", "test"])
    parser.add_argument("checkpoints", nargs="+", type=Path)
    args = parser.parse_args()
    posts = load_split(SplitConfig(str(args.prepared / f"{args.split}.jsonl")))
    header = None
    with tempfile.TemporaryDirectory() as tmp:
        for checkpoint in args.checkpoints:
            out = Path(tmp) / f"{checkpoint.name}.jsonl"
            command = [sys.executable, "-m", "mmkp", "predict", "--model", str(checkpoint)]
            command += ["--input", str(args.prepared / f"{args.split}.jsonl")]
            command += ["--features", str(args.prepared / "features"), "--out", str(out)]
            subprocess.run([*command, "--threads", "1"], check=True, capture_output=True)
            scores = score_by_kind(read_predictions(out), posts)
            if header is None:
                header = list(scores)
                print(f"{args.split} {METRIC} | " + " | ".join(header))
            cells = " | ".join(f"{scores[group][METRIC]:.2f}" for group in header)
            print(f"{checkpoint} | {cells}", flush=True)


if __name__ == "__main__":
    main()

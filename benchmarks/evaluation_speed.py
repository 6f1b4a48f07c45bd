"""Time `evaluate` and the paired bootstrap on the shared metric check set, tiled to N posts.

Run: .venv/bin/python benchmarks/evaluation_speed.py [--copies 5]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from mmkp.evaluation.metrics import evaluate, post_scores
from mmkp.evaluation.phrase_match import stem_token
from mmkp.evaluation.prediction_files import load_aligned
from mmkp.evaluation.significance import paired_bootstrap

CMKP = Path(__file__).resolve().parents[2] / "shared" / "data" / "cmkp"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--copies", type=int, default=5, help="tile the 1,000 posts this often")
    args = parser.parse_args()
    files = load_aligned(CMKP / "metric_check_pred.txt", CMKP / "metric_check_src.txt")
    preds, posts = files.predictions * args.copies, files.posts * args.copies
    shifted = [p[1:] + p[:1] for p in preds]  # a second "system": top prediction moved last

    for label in ("cold stem cache", "warm stem cache"):
        start = time.perf_counter()
        evaluate(preds, posts)
        print(f"evaluate, {len(posts)} posts, {label}: {time.perf_counter() - start:.2f} s")
        if label.startswith("cold"):
            print(f"  distinct tokens stemmed: {stem_token.cache_info().currsize}")

    a, b = post_scores(preds, posts), post_scores(shifted, posts)
    start = time.perf_counter()
    paired_bootstrap(a, b, resamples=1000, seed=0)
    print(
        f"paired bootstrap, {len(posts)} posts, 1000 resamples: {time.perf_counter() - start:.2f} s"
    )


if __name__ == "__main__":
    main()

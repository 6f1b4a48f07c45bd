"""Per kind of generated post: one system against others, paired bootstrap on F1@1.

`mmkp benchmark` reports the bootstrap over all posts; this script repeats it on each planted
kind (text, ocr, visual, noise) of the scored split, with each post's score averaged over the
seeds of a system, as the benchmark table does (benchmarks/RESULTS.md, "Noise filter on image
text (issue 24)"):

    python benchmarks/filter/kind_bootstrap.py /work/runs/filter-data mmkp-learned co-att ban mmkp

Each system's runs are OUT/runs/<key>/seed-<n>/ (every seed found); the gold posts are the
generated split, OUT/generated/prepared/<split>.jsonl (`--split dev` scores the split the
choices are made on; the benchmark writes both splits' predictions).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from mmkp.data.config import SplitConfig
from mmkp.data.synthetic import KINDS
from mmkp.evaluation.metrics import PostScores, post_scores
from mmkp.evaluation.significance import paired_bootstrap
from mmkp.experiments.benchmark.scoring import read_aligned
from mmkp.training.data import load_split

METRIC = "F1@1"


def seed_scores(out: Path, key: str, posts: list, split: str) -> list[PostScores]:
    runs = sorted((out / "runs" / key).glob(f"seed-*/{split}_predictions.jsonl"))
    if not runs:
        raise ValueError(f"{out / 'runs' / key}: no seed-*/{split}_predictions.jsonl")
    return [post_scores(read_aligned(path, posts), posts) for path in runs]


def subset(scores: PostScores, rows: np.ndarray) -> PostScores:
    return PostScores(
        precision={k: v[rows] for k, v in scores.precision.items()},
        recall={k: v[rows] for k, v in scores.recall.items()},
        average_precision=scores.average_precision[rows],
    )


def mean_over_seeds(runs: list[PostScores]) -> PostScores:
    def mean(arrays: list[np.ndarray]) -> np.ndarray:
        return np.mean(np.stack(arrays), axis=0)

    first = runs[0]
    return PostScores(
        precision={k: mean([r.precision[k] for r in runs]) for k in first.precision},
        recall={k: mean([r.recall[k] for r in runs]) for k in first.recall},
        average_precision=mean([r.average_precision for r in runs]),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path, help="the benchmark's run folder")
    parser.add_argument("system", help="the system compared (its suite key)")
    parser.add_argument("others", nargs="+", help="the systems it is compared with")
    parser.add_argument("--split", choices=["dev", "test"], default="test")
    parser.add_argument("--resamples", type=int, default=1000)
    args = parser.parse_args()
    prepared = args.out / "generated" / "prepared"
    posts = load_split(SplitConfig(str(prepared / f"{args.split}.jsonl")))
    kinds = np.array([post.extra["planted"]["kind"] for post in posts])
    groups = {"all": np.arange(len(posts))} | {k: np.flatnonzero(kinds == k) for k in KINDS}
    mine = seed_scores(args.out, args.system, posts, args.split)
    print(f"{args.split} {METRIC} per kind, mean ± sample std over seeds")
    print("| system | seeds | " + " | ".join(groups) + " |")
    print("|---|---:|" + "---:|" * len(groups))
    for key in [args.system, *args.others]:
        runs = seed_scores(args.out, key, posts, args.split)
        cells = []
        for rows in groups.values():
            values = [100 * float(subset(r, rows).macro(METRIC)) for r in runs]
            spread = f" ± {np.std(values, ddof=1):.2f}" if len(values) > 1 else ""
            cells.append(f"{np.mean(values):.2f}{spread}")
        print(f"| {key} | {len(runs)} | " + " | ".join(cells) + " |")
    print()
    print(
        f"{args.split} {METRIC}, {args.system} ({len(mine)} seeds) minus each system; p: two-sided"
        f" paired bootstrap, {args.resamples} resamples, seed 0, seed-averaged post scores"
    )
    print("| against | seeds | " + " | ".join(groups) + " |")
    print("|---|---:|" + "---|" * len(groups))
    for other in args.others:
        theirs = seed_scores(args.out, other, posts, args.split)
        cells = []
        for rows in groups.values():
            a = mean_over_seeds([subset(s, rows) for s in mine])
            b = mean_over_seeds([subset(s, rows) for s in theirs])
            result = paired_bootstrap(a, b, metrics=[METRIC], resamples=args.resamples)[0]
            cells.append(f"{result.delta:+.2f} (p {result.p_value:.3f})")
        print(f"| {other} | {len(theirs)} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()

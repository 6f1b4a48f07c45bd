"""`mmkp baseline NAME --train F --test F --out PRED`: run a non-neural baseline."""

from __future__ import annotations

import argparse
import time

from mmkp.retrieval.registry import BASELINES, build_baseline


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "baseline",
        help="predict keyphrases with a non-neural baseline",
        description="Fit a baseline on training posts and write its top keyphrases for test posts "
        "(.jsonl output keeps ids and scores, anything else is kp1;kp2;... per line).",
    )
    parser.add_argument("name", choices=BASELINES)
    parser.add_argument("--train", required=True, help="training posts (.jsonl or *_ocr_kw.txt)")
    parser.add_argument("--test", required=True, help="posts to predict for")
    parser.add_argument("--out", required=True, help="prediction file to write")
    parser.add_argument("--k", type=int, default=None, help="neighbours for the kNN baselines")
    parser.add_argument("--top-k", type=int, default=5, help="keyphrases per post (default 5)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mmkp.data.errors import ErrorLog
    from mmkp.data.formats import load_posts
    from mmkp.evaluation.prediction_files import write_predictions

    if args.top_k < 1:
        raise ValueError(f"--top-k must be at least 1, got {args.top_k}")
    errors = ErrorLog()
    train = load_posts(args.train, errors)
    test = load_posts(args.test, errors)
    start = time.perf_counter()
    model = build_baseline(args.name, k=args.k).fit(train)
    predictions = model.predict(test, top_k=args.top_k)
    write_predictions(args.out, predictions)
    seconds = time.perf_counter() - start
    skipped = f"; {len(errors)} bad lines skipped" if errors.errors else ""
    print(
        f"{args.name}: fitted on {len(train)} posts, wrote {len(test)} predictions to "
        f"{args.out} ({seconds:.1f}s{skipped})"
    )
    return 0

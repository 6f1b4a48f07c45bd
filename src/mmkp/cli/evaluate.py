"""`mmkp evaluate --pred PRED --gold GOLD`: the benchmark's keyphrase metrics as a table/JSON."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="score predictions: P/R/F1@1,3,5, MAP@5, present/absent F1@1,3",
        description="Score keyphrase predictions against gold posts with the benchmark's "
        "standard evaluator (see docs/evaluation.md).",
    )
    parser.add_argument(
        "--pred",
        required=True,
        help="predictions: `kp1;kp2;...` lines (by line order) or .jsonl with ids",
    )
    parser.add_argument("--gold", required=True, help="gold posts: .jsonl or `<sep>` text")
    parser.add_argument("--json", metavar="OUT", help="also write the scores to this JSON file")
    add_precision_option(parser)
    parser.set_defaults(run=run)


def add_precision_option(parser: argparse.ArgumentParser) -> None:
    """`--precision`, shared by `mmkp evaluate` and `mmkp compare`."""
    parser.add_argument(
        "--precision",
        choices=("standard", "fixed"),
        default="standard",
        help="standard: P@K = hits / min(K, #predictions) (default); fixed: hits / K",
    )


def run(args: argparse.Namespace) -> int:
    from mmkp.evaluation.metrics import evaluate
    from mmkp.evaluation.prediction_files import load_aligned
    from mmkp.io import write_json_atomic

    files = load_aligned(args.pred, args.gold)
    result = evaluate(files.predictions, files.posts, precision=args.precision)
    print(result.format_table())
    if args.json:
        write_json_atomic(args.json, {"pred": args.pred, "gold": args.gold, **result.to_dict()})
    return 0

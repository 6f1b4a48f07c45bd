"""`mmkp compare PRED_A PRED_B --gold GOLD`: paired bootstrap test on F1@1, F1@3, MAP@5."""

from __future__ import annotations

import argparse

from mmkp.cli.evaluate import add_precision_option


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "compare",
        help="paired bootstrap significance test between two prediction files",
        description="Is system A better than B on the same gold posts? Resamples posts and "
        "reports delta = A - B and a two-sided p-value (see docs/evaluation.md).",
    )
    parser.add_argument("pred_a", metavar="PRED_A", help="predictions of system A")
    parser.add_argument("pred_b", metavar="PRED_B", help="predictions of system B")
    parser.add_argument("--gold", required=True, help="gold posts: .jsonl or `<sep>` text")
    parser.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples")
    parser.add_argument("--seed", type=int, default=0, help="seed of the resampling")
    add_precision_option(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mmkp.evaluation.metrics import post_scores
    from mmkp.evaluation.prediction_files import load_aligned
    from mmkp.evaluation.significance import format_comparison, paired_bootstrap

    system_a = load_aligned(args.pred_a, args.gold)
    system_b = load_aligned(args.pred_b, args.gold)
    results = paired_bootstrap(
        post_scores(system_a.predictions, system_a.posts, precision=args.precision),
        post_scores(system_b.predictions, system_b.posts, precision=args.precision),
        resamples=args.resamples,
        seed=args.seed,
    )
    print(f"A: {args.pred_a}\nB: {args.pred_b}")
    print(format_comparison(results, resamples=args.resamples, seed=args.seed))
    return 0

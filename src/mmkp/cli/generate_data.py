"""`mmkp generate-data --out DIR`: generated posts with real images (see docs/synthetic.md)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "generate-data",
        help="write generated multimodal posts (train/dev/test JSONL + images)",
        description="Deterministic posts whose keyphrases sit in the text, in text rendered in "
        "the image, or in the image's visual content; a share get an unrelated image.",
    )
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--train", type=int, default=400, help="training posts (default 400)")
    parser.add_argument("--dev", type=int, default=100, help="dev posts (default 100)")
    parser.add_argument("--test", type=int, default=100, help="test posts (default 100)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--noise-share", type=float, default=0.2, help="share of posts with an unrelated image"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mmkp.data.synthetic import generate
    from mmkp.io import output_dir

    data = generate(
        output_dir(args.out),
        n_train=args.train,
        n_dev=args.dev,
        n_test=args.test,
        seed=args.seed,
        noise_share=args.noise_share,
    )
    for split, counts in data.counts.items():
        kinds = ", ".join(f"{kind} {n}" for kind, n in counts.items())
        print(f"{split}: {sum(counts.values())} posts ({kinds})")
    print(f"wrote {data.train.parent}/{{train,dev,test}}.jsonl and {data.images}/")
    return 0

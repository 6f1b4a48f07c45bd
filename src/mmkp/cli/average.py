"""`mmkp average --out DIR MODEL_DIR MODEL_DIR...`: checkpoint averaging (the element-wise
mean of the models' weights; `mmkp.inference.average`)."""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "average",
        help="average the weights of model directories trained alike (e.g. seeds)",
        description="Write a model directory whose model.safetensors is the element-wise mean "
        "of the given model directories' weights; config, vocabulary, labels, processor and "
        "retrieval index are copied from the first, and the model card names the averaged "
        "directories. The directories must share the architecture, vocabulary and data config "
        "(their config.json, vocab.json, labels.json, processor.json, retrieval.json and "
        "tensor shapes); integer and bool buffers must be equal. See docs/training.md.",
    )
    parser.add_argument("models", nargs="+", metavar="MODEL_DIR", help="model directories")
    parser.add_argument("--out", required=True, help="the averaged model directory to write")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mmkp.inference.average import average_checkpoints

    out = average_checkpoints(args.models, args.out)
    print(f"average of {len(args.models)} models -> {out}", file=sys.stderr)
    return 0

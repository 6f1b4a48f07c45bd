"""`mmkp train --config F [--set k=v ...] [--device D] [--out DIR] [--resume]`: the stages.

`torchrun --nproc-per-node N -m mmkp train ...` trains on N processes (DDP,
`mmkp.training.distributed`); rank 0 prints the results."""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train MM-MKP (stage 1: L_itm + L_irtm + L_cla; stage 2: generation)",
        description="Train the config's stages in order (see configs/ and docs/training.md), "
        "keep the best checkpoint of each, and score the final model on the dev split.",
    )
    parser.add_argument("--config", required=True, help="experiment YAML, e.g. configs/tiny.yaml")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. --set train.stages.stage2.epochs=3 (repeatable)",
    )
    parser.add_argument(
        "--device", help="auto, cpu, cuda or cuda:N: shorthand for --set train.device=..."
    )
    parser.add_argument("--out", help="output directory (default: runs/<config name>)")
    parser.add_argument(
        "--resume", action="store_true", help="continue an interrupted run in --out"
    )
    parser.set_defaults(
        run=run,
        interrupted="the last finished epoch is saved; rerun with --resume to continue",
    )


def run(args: argparse.Namespace) -> int:
    from mmkp.io import output_dir
    from mmkp.training.config import load_config
    from mmkp.training.pipeline import run_training

    try:
        device = [f"train.device={args.device}"] if args.device else []
        config = load_config(args.config, [*args.overrides, *device])
    except yaml.YAMLError as exc:
        raise ValueError(f"{args.config}: not valid YAML ({exc})") from exc
    out = output_dir(Path(args.out) if args.out else Path("runs") / Path(args.config).stem)
    result = run_training(config, out, resume=args.resume)
    if not result.is_main:  # torchrun's other ranks: rank 0 reports
        return 0
    for stage, rows in result.history.items():
        trained = [row for row in rows if "train_loss" in row]
        if trained:
            last = trained[-1]["train_loss"]
            print(f"{stage}: {len(trained)} epochs, last train loss {last:.4f}")
    for split, scores in result.scores.items():
        print(f"\n{split} ({out / f'{split}_predictions.jsonl'}):\n{scores.format_table()}")
    print(f"\nmodel: {result.model_dir}")
    return 0

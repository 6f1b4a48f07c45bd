"""`mmkp prepare --input posts.jsonl --out DIR`: OCR, entities and grid features, resumable.

`--engine ray --input 'shards/*.jsonl'` runs it on Ray Data, one output folder per shard
(`mmkp.scale.prepare`, docs/scale.md)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from mmkp.cli.engines import add_engine_options, check_local, ray_options
from mmkp.features.backbones import DEFAULT_BACKBONE, SPECS
from mmkp.features.entities import PROVIDERS
from mmkp.features.ocr import OcrConfig
from mmkp.features.regions import DEFAULT_COUNT

if TYPE_CHECKING:
    from mmkp.features.prepare import PrepareConfig


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "prepare",
        help="read every post's image: OCR text, visual entities, 7x7 grid features",
        description="Writes DIR/posts.jsonl (posts with ocr + entities filled), DIR/features/ "
        "(grids by post id), DIR/errors.jsonl (per-post problems). Rerunning with the same "
        "--out resumes: finished posts are skipped, and so are failed ones unless "
        "--retry-failed is given.",
    )
    parser.add_argument("--input", required=True, help="posts JSONL")
    parser.add_argument(
        "--images", help="folder that relative image paths start from (default: the JSONL's)"
    )
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument(
        "--backbone", default=DEFAULT_BACKBONE, choices=sorted(SPECS), help="grid CNN"
    )
    parser.add_argument(
        "--weights", help="backbone state dict (required for vgg16/vgg19, torchvision names)"
    )
    parser.add_argument(
        "--entities", default="local", choices=PROVIDERS, help="entity provider (default local)"
    )
    parser.add_argument(
        "--ocr", action=argparse.BooleanOptionalAction, default=True, help="run OCR (default on)"
    )
    parser.add_argument(
        "--ocr-min-score",
        type=float,
        default=OcrConfig().min_score,
        help="drop OCR lines scored below this (default 0.8)",
    )
    parser.add_argument(
        "--ocr-det-side",
        type=int,
        default=OcrConfig().det_side,
        help="OCR detection shrinks an image's longer side to this many pixels (default 960; "
        "less is faster on large photos and may miss small text)",
    )
    parser.add_argument(
        "--regions",
        help="store these object-detector region features instead of reading the images (no "
        "OCR, entities or CNN): a folder of <post id or image name>.npy/.npz, or one "
        ".h5/.npz/.tsv file of many images (docs/baselines.md, BUTD)",
    )
    parser.add_argument(
        "--region-count",
        type=int,
        default=DEFAULT_COUNT,
        help=f"with --regions: regions kept per image, zero-padded below ({DEFAULT_COUNT})",
    )
    parser.add_argument("--batch-size", type=int, default=16, help="images per batch (16)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--retry-failed",
        action="store_true",
        help="redo posts an earlier run recorded as failed (default: skip them)",
    )
    add_engine_options(parser, batch="posts")
    parser.set_defaults(
        run=run, interrupted="finished posts are kept; rerun the same command to resume"
    )


def run(args: argparse.Namespace) -> int:
    from mmkp.features.entities import EntityServiceError
    from mmkp.features.prepare import PrepareConfig, prepare
    from mmkp.features.regions import prepare_regions

    check_local(args)
    if args.regions is not None and args.engine == "ray":
        raise ValueError("--regions reads no image: run it with the local engine")
    if args.regions is not None:
        found = prepare_regions(args.input, args.out, regions=args.regions, count=args.region_count)
        print(found.format())
        print(f"wrote {args.out}/posts.jsonl, {args.out}/features/, {args.out}/errors.jsonl")
        return 0
    config = PrepareConfig(
        backbone=args.backbone,
        weights=args.weights,
        entities=args.entities,
        ocr=args.ocr,
        batch_size=args.batch_size,
        ocr_config=OcrConfig(min_score=args.ocr_min_score, det_side=args.ocr_det_side),
        progress=not args.no_progress,
        retry_failed=args.retry_failed,
    )
    if args.engine == "ray":
        return _run_ray(args, config)
    try:
        summary = prepare(args.input, args.out, images_dir=args.images, config=config)
    except EntityServiceError as exc:
        print(
            f"mmkp prepare: error: {exc}; finished posts are kept, rerun to resume", file=sys.stderr
        )
        return 2
    print(summary.format())
    print(f"wrote {args.out}/posts.jsonl, {args.out}/features/, {args.out}/errors.jsonl")
    return 0


def _run_ray(args: argparse.Namespace, config: PrepareConfig) -> int:
    from mmkp.scale.prepare import prepare_shards

    job = prepare_shards(
        args.input, args.out, images_dir=args.images, config=config, options=ray_options(args)
    )
    skipped = f"; {len(job.skipped)} shards finished before, skipped" if job.skipped else ""
    print(f"{len(job.shards)} shards: {job.summary.format()}{skipped}")
    print(f"wrote {args.out}/<shard>/posts.jsonl, features/, errors.jsonl")
    return 0

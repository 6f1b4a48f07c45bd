"""`mmkp predict`: keyphrases from a trained model, for a posts file or one typed post.

mmkp predict --model DIR --input posts.jsonl --out preds.jsonl   (or preds.txt)
mmkp predict --model DIR --text "So excited for #KCA!" [--image photo.jpg]
mmkp predict --model DIR1 --model DIR2 --model DIR3 --input posts.jsonl --out preds.jsonl

A repeated --model is an ensemble (models of one data and vocabulary config, e.g. seeds):
one beam search over the mean of their step log-probabilities (`mmkp.decoding.ensemble`).

With --input the posts are streamed and each prediction is written as it comes (to
`OUT.partial`, renamed to OUT at the end), so memory stays flat on any file size and a crash
or Ctrl-C loses nothing: `--resume` continues, skipping the posts already predicted (by id
for .jsonl output, by line count for text output).

mmkp predict --engine ray --model DIR --input 'shards/*.jsonl' --out OUTDIR
runs on Ray Data: OUTDIR/<shard>.jsonl and <shard>.errors.jsonl per shard (`mmkp.scale`).
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import logging
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from mmkp.cli.engines import add_engine_options, check_local, ray_options
from mmkp.cli.options import (
    add_config_options,
    add_device_option,
    add_model_and_posts,
    config_from_options,
)
from mmkp.data.neighbours import ENCODERS
from mmkp.decoding.config import DecodeConfig
from mmkp.features.minilm_precision import MINILM_PRECISIONS

if TYPE_CHECKING:
    from mmkp.data.record import Post
    from mmkp.inference.predictor import PredictionResult, Predictor

log = logging.getLogger("mmkp.predict")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "predict",
        help="generate keyphrases with a trained model (a posts file, or --text)",
        description="Beam-search keyphrases from a checkpoint directory (model.safetensors, "
        "config.json, vocab.json, labels.json). With --input, posts are read as training "
        "reads them (dataset form); a model that reads images featurizes each post's image as "
        "`mmkp prepare` does (or reads a prepared --features store); with --text, the raw "
        "text is normalised like the dataset and --image goes through the same preparation. "
        "A repeated --model decodes an ensemble: one beam search over the mean of the "
        "models' step log-probabilities.",
    )
    add_model_and_posts(
        parser, input_help="posts file (.jsonl or the benchmark's `<sep>` text)", ensemble=True
    )
    parser.add_argument("--image", help="with --text: an image file or http(s) URL")
    parser.add_argument(
        "--backbone",
        help="with --image: grid backbone (default: the training feature store's, else "
        "efficientnet-lite0)",
    )
    parser.add_argument("--weights", help="with --image: backbone weights file (vgg16/vgg19)")
    parser.add_argument(
        "--out", help="with --input: predictions file, .jsonl (ids + scores) or `kp1;kp2` text"
    )
    parser.add_argument(
        "--features",
        help="with --input: FeatureStore folder of `mmkp prepare` (image grids); without it, "
        "a model that reads images featurizes each post's image as `prepare` would",
    )
    parser.add_argument(
        "--images",
        help="with --input: folder that relative image paths are under (default: the input "
        "file's folder)",
    )
    parser.add_argument(
        "--text-only",
        action="store_true",
        help="with --input: predict from the posts' text, OCR and entities only, even when "
        "the model reads images (no image is opened)",
    )
    parser.add_argument(
        "--normalise",
        action="store_true",
        help="with --input: the posts are raw text; normalise them like --text",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="with --input: continue an interrupted run, skipping posts already in --out",
    )
    parser.add_argument("--batch-size", type=int, default=32, help="posts per batch")
    parser.add_argument("--json", action="store_true", help="with --text: print JSON")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (default 1: more only help on cores no other job uses)",
    )
    parser.add_argument(
        "--retrieval-encoder",
        choices=ENCODERS,
        help="for a model with model.retrieval: retrieve the neighbours by tfidf, minilm or "
        "both instead of the model's own encoder (a decode-time switch; docs/decoding.md)",
    )
    parser.add_argument(
        "--minilm-precision",
        choices=MINILM_PRECISIONS,
        help="MiniLM's precision for the posts and candidates it embeds (default fp32, exact); "
        "bf16: about 1.7x faster on a CPU with AVX512-BF16, keyphrases nearly always the same "
        "(docs/decoding.md)",
    )
    add_device_option(parser)
    add_config_options(parser, DecodeConfig, "decode")
    add_engine_options(parser, batch="posts")
    parser.set_defaults(
        run=run,
        interrupted="predictions so far are kept in OUT.partial; rerun with --resume to go on",
    )


def run(args: argparse.Namespace) -> int:
    if args.input is not None and args.out is None:
        raise ValueError("--input needs --out (a .jsonl or text predictions file)")
    if args.text is None and args.image is not None:
        raise ValueError("--image goes with --text; posts files name their images themselves")
    if args.input is None and (args.text_only or args.images or args.features):
        raise ValueError("--features, --images and --text-only go with --input")
    if args.resume and args.input is None:
        raise ValueError("--resume goes with --input")
    for name in ("threads", "batch_size"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    check_local(args)
    if args.engine == "ray":
        return _run_ray(args)
    # Imported here so `mmkp predict --help` loads neither torch nor the model.
    import torch

    from mmkp.inference.predictor import Predictor

    torch.set_num_threads(args.threads)
    predictor = Predictor.load(args.model, device=args.device)  # a list: one dir or an ensemble
    if args.backbone is not None or args.weights is not None:
        from mmkp.features import backbones
        from mmkp.features.featurizer import FeaturizerConfig, ImageFeaturizer

        backbone = args.backbone or backbones.DEFAULT_BACKBONE
        config = FeaturizerConfig(backbone=backbone, weights=args.weights)
        predictor.featurizer = ImageFeaturizer(config)
    predictor.decode = config_from_options(predictor.decode, args, "decode")
    if args.retrieval_encoder is not None:
        predictor.use_retrieval_encoder(args.retrieval_encoder)
    if args.minilm_precision is not None:
        predictor.use_minilm_precision(args.minilm_precision)
    if args.text is not None:
        result = predictor.predict(args.text, image=args.image)
        print(json.dumps(result.to_dict()) if args.json else format_result(result))
        return 0
    return predict_file(predictor, args)


def predict_file(predictor: Predictor, args: argparse.Namespace) -> int:
    from mmkp.data.errors import ErrorLog
    from mmkp.data.formats import stream_posts
    from mmkp.data.tokenize import normalise
    from mmkp.evaluation.prediction_files import PredictionWriter
    from mmkp.features.store import FeatureStore
    from mmkp.inference.predictor import ImagePolicy

    errors = ErrorLog()
    posts: Iterable[Post] = stream_posts(args.input, errors)
    if args.normalise:
        posts = (dataclasses.replace(post, text=normalise(post.text)) for post in posts)
    grid_lookup = FeatureStore.open(args.features).get if args.features else None
    images = None
    problems: list[str] = []
    if predictor.uses_image and not args.features and not args.text_only:
        images = ImagePolicy(
            base=Path(args.images) if args.images else Path(args.input).parent,
            on_error=lambda post, error: _report(problems, post, error),
        )
    with PredictionWriter(Path(args.out), resume=args.resume) as writer:
        if writer.done_ids:
            posts = (post for post in posts if post.id not in writer.done_ids)
        elif writer.done:  # text predictions: the first `done` posts, by line order
            posts = itertools.islice(posts, writer.done, None)
        results = predictor.predict_many(
            posts, args.batch_size, grid_lookup=grid_lookup, images=images
        )
        for result in results:
            writer.write(result.to_prediction())
        if writer.done + writer.written == 0:
            raise ValueError(f"{args.input}: no posts to predict")
    resumed = f" ({writer.done} were there already)" if writer.done else ""
    skipped = f", {len(errors)} bad lines skipped" if errors else ""
    unread = f", {len(problems)} images not used (see above)" if problems else ""
    print(f"{writer.written} posts -> {args.out}{resumed}{skipped}{unread}", file=sys.stderr)
    return 0


def _run_ray(args: argparse.Namespace) -> int:
    """--input is a glob of JSONL shards, --out a folder; the model loads on each actor."""
    from functools import partial

    from mmkp.scale.predict import predict_shards

    if args.input is None or args.text is not None:
        raise ValueError("--engine ray predicts --input shards, not --text")
    if len(args.model) > 1:
        raise ValueError("--engine ray predicts with one --model, not an ensemble")
    local_only = {
        "--features": args.features,
        "--resume": args.resume,  # a rerun skips the finished shards by itself
        "--normalise": args.normalise,
        "--backbone": args.backbone,
        "--weights": args.weights,
    }
    given = [flag for flag, value in local_only.items() if value]
    if given:
        raise ValueError(f"{', '.join(given)}: not with --engine ray")
    job = predict_shards(
        args.model[0],
        args.input,
        args.out,
        device=args.device,
        decode=partial(config_from_options, args=args, section="decode"),
        batch_size=args.batch_size,
        images_dir=args.images,
        text_only=args.text_only,
        retrieval_encoder=args.retrieval_encoder,
        minilm_precision=args.minilm_precision,
        options=ray_options(args),
    )
    skipped = f", {len(job.skipped)} finished before (skipped)" if job.skipped else ""
    print(
        f"{job.predicted} posts in {len(job.shards)} shards -> {args.out}/<shard>.jsonl"
        f"{skipped}; {job.bad_lines} bad lines, {job.image_problems} images not used "
        f"(<shard>.errors.jsonl)",
        file=sys.stderr,
    )
    return 0


def _report(problems: list[str], post: Post, error: dict[str, str]) -> None:
    """One line per image problem, naming the post; the post is predicted without it."""
    line = f"post {post.id!r}: {error['stage']}: {error['reason']}"
    problems.append(line)
    print(f"warning: {line}; predicted without it", file=sys.stderr)


def format_result(result: PredictionResult) -> str:
    lines = [f"{rank}. {kp.text}  ({kp.score:.3f})" for rank, kp in enumerate(result.keyphrases, 1)]
    post = result.post
    lines.append(f"input: {post.text}")
    if post.ocr:
        lines.append(f"ocr: {post.ocr}")
    if post.entities:
        lines.append(f"entities: {' ; '.join(post.entity_names)}")
    if result.match_score is not None:
        lines.append(f"image-text match s_c: {result.match_score:.3f}")
    if result.region_scores is not None:
        lines.append("region scores A (7x7 grid, top row first):")
        lines += ["  " + " ".join(f"{v:6.2f}" for v in row) for row in result.region_scores]
    return "\n".join(lines)

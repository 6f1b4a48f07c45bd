"""`mmkp convert INPUT OUT`: between JSONL and the benchmark formats (ocr_kw, CMKP, TRC)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mmkp.data.errors import ErrorLog
from mmkp.data.formats import FORMATS, read_cmkp, read_ocr_kw, read_trc, save_posts, sniff
from mmkp.data.jsonl import read_posts
from mmkp.data.record import Post

SHOWN_ERRORS = 10


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "convert",
        help="convert posts between JSONL, ocr_kw, CMKP src and TRC csv",
        description="Read posts in one format and write them in another; bad lines are "
        "reported with file and line and skipped (see docs/data.md).",
    )
    parser.add_argument("input", help="the posts file to read")
    parser.add_argument("out", help="the file to write")
    parser.add_argument(
        "--from", dest="source", choices=FORMATS, help="input format (default: sniffed)"
    )
    parser.add_argument("--to", choices=("jsonl", "ocr_kw"), default="jsonl", help="output format")
    parser.add_argument(
        "--images", help="trc: folder with T{tweet_id}.jpg (default: beside the csv)"
    )
    parser.add_argument(
        "--drop-missing-images", action="store_true", help="trc: leave out rows without an image"
    )
    parser.add_argument("--trg", help="cmkp: aligned keyphrase file (`kp1;kp2` lines)")
    parser.add_argument("--ocr", help="cmkp: aligned OCR text file (*_ocr.txt)")
    parser.add_argument("--attribute", help="cmkp/ocr_kw: aligned attribute-words file")
    parser.set_defaults(run=run)


def read(args: argparse.Namespace, errors: ErrorLog) -> list[Post]:
    kind = args.source or sniff(args.input)
    side = {"trg": args.trg, "ocr": args.ocr, "attribute": args.attribute}
    allowed = {"cmkp": {"trg", "ocr", "attribute"}, "ocr_kw": {"attribute"}}.get(kind, set())
    if unused := sorted(name for name, value in side.items() if value and name not in allowed):
        raise ValueError(f"--{', --'.join(unused)} cannot be used with {kind} input")
    if kind == "cmkp":
        return read_cmkp(args.input, errors, trg=args.trg, ocr=args.ocr, attribute=args.attribute)
    if kind == "ocr_kw":
        return read_ocr_kw(args.input, errors, attribute=args.attribute)
    if kind == "trc":
        images = args.images or str(Path(args.input).parent)
        data = read_trc(args.input, images, errors, drop_missing=args.drop_missing_images)
        action = "dropped" if args.drop_missing_images else "kept without image"
        print(f"{len(data.missing_images)} rows have no image in {images} ({action})")
        return data.posts
    return read_posts(args.input, errors)


def run(args: argparse.Namespace) -> int:
    errors = ErrorLog()
    posts = read(args, errors)
    print(f"read {len(posts)} posts from {args.input}; skipped {len(errors)} bad lines")
    for error in errors.errors[:SHOWN_ERRORS]:
        print(f"  {error}", file=sys.stderr)
    if len(errors) > SHOWN_ERRORS:
        print(f"  ... and {len(errors) - SHOWN_ERRORS} more", file=sys.stderr)
    if not posts:
        raise ValueError(f"{args.input}: no valid posts to convert; {args.out} not written")
    count = save_posts(args.out, posts, args.to)
    print(f"wrote {count} posts to {args.out} ({args.to})")
    return 0

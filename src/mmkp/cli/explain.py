"""`mmkp explain`: the paper's Fig. 3 for posts: the image with the region weights sigmoid(A)
over it, the text, OCR and entities, the keyphrases (gold in bold) and s_c.

mmkp explain --model DIR --text "..." [--image photo.jpg] [--gold "kp1;kp2"] --out case.png
mmkp explain --model DIR --input posts.jsonl --out DIR/ [--html] [--limit N]
    [--compare OTHER_MODEL_DIR --compare-name M3H-ATT]
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mmkp.cli.options import add_device_option, add_model_and_posts

if TYPE_CHECKING:
    from PIL import Image

    from mmkp.inference.predictor import PredictionResult, Predictor

CHUNK = 16  # posts featurized and decoded together
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Case:
    id: str
    text: str
    image: Image.Image | None
    gold: list[str]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "explain",
        help="draw the paper's case figure (Fig. 3) for a post or a posts file",
        description="Predict with --model and draw, per post, the image with the 7x7 region "
        "weights sigmoid(A) over it and the OCR boxes, beside the text, OCR, entities, s_c and "
        "the ranked keyphrases (gold ones in bold). With --compare, a second model's "
        "keyphrases stand beside them.",
    )
    add_model_and_posts(parser, input_help="posts file (JSONL: text, image, keyphrases as gold)")
    parser.add_argument("--image", help="with --text: the post's image")
    parser.add_argument("--gold", help="with --text: gold keyphrases, `;`-separated")
    parser.add_argument("--out", required=True, help="figure file (--text) or folder (--input)")
    parser.add_argument("--html", action="store_true", help="with --input: a page per post")
    parser.add_argument("--limit", type=int, help="with --input: the first N posts only")
    parser.add_argument("--name", default="MM-MKP", help="the model's name in the figure")
    parser.add_argument("--compare", help="a second checkpoint directory, drawn beside")
    parser.add_argument("--compare-name", default="compared", help="its name in the figure")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    add_device_option(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.text is None and (args.image or args.gold):
        raise ValueError("--image and --gold go with --text; posts files carry their own")
    if args.input is None and (args.html or args.limit):
        raise ValueError("--html and --limit go with --input")
    # Imported here so `mmkp explain --help` loads neither torch, the model nor matplotlib.
    import torch

    from mmkp.inference.explain import case_page
    from mmkp.inference.predictor import Predictor

    torch.set_num_threads(args.threads)
    predictor = Predictor.load(args.model, device=args.device)
    other = None
    if args.compare is not None:
        other = Predictor.load(args.compare, device=args.device)
        other.featurizer = predictor.processor.featurizer()  # one featurizer for both models
    if args.text is not None:
        gold = [g.strip() for g in (args.gold or "").split(";") if g.strip()]
        case = Case("input", args.text, _image(args.image), gold)
        ((result, compared),) = explain_cases(predictor, other, [case])
        _save(case, result, compared, args, Path(args.out))
        print(f"-> {args.out}", file=sys.stderr)
        return 0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cases = list(_cases(Path(args.input), args.limit))
    pages = []
    for start in range(0, len(cases), CHUNK):
        chunk = cases[start : start + CHUNK]
        for case, (result, compared) in zip(
            chunk, explain_cases(predictor, other, chunk), strict=True
        ):
            name = _UNSAFE.sub("_", case.id) or "post"
            _save(case, result, compared, args, out / f"{name}.png")
            if args.html:
                page = case_page(result, f"{name}.png", gold=case.gold, title=case.id)
                (out / f"{name}.html").write_text(page, encoding="utf-8")
                pages.append(name)
    if args.html:
        links = "".join(f'<li><a href="{n}.html">{n}</a></li>' for n in pages)
        (out / "index.html").write_text(f"<!doctype html><ul>{links}</ul>\n", encoding="utf-8")
    print(f"{len(cases)} figures -> {out}", file=sys.stderr)
    return 0


def explain_cases(
    predictor: Predictor, other: Predictor | None, cases: Sequence[Case]
) -> list[tuple[PredictionResult, PredictionResult | None]]:
    """Each case's result (and the compared model's), featurized and decoded together."""
    from mmkp.inference.predictor import RawPost

    raws = [RawPost(case.text, case.image, case.id) for case in cases]
    ours = predictor.predict_batch(raws)
    theirs = other.predict_batch(raws) if other is not None else [None] * len(cases)
    for case, result in zip(cases, ours, strict=True):
        if isinstance(result, ValueError):
            raise ValueError(f"post {case.id!r}: {result}")
    return list(zip(ours, theirs, strict=True))  # type: ignore[arg-type]


def _save(
    case: Case,
    result: PredictionResult,
    compared: PredictionResult | ValueError | None,
    args: argparse.Namespace,
    path: Path,
) -> None:
    from mmkp.inference.explain import Column, explain_figure
    from mmkp.inference.predictor import PredictionResult

    column = None
    if isinstance(compared, PredictionResult):
        column = Column(args.compare_name, compared)
    figure = explain_figure(result, case.image, gold=case.gold, model=args.name, compare=column)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)


def _image(ref: str | None) -> Image.Image | None:
    from mmkp.features.images import ImageError, load_any

    if ref is None:
        return None
    try:
        return load_any(ref)
    except ImageError as exc:
        raise ValueError(f"--image {exc}") from exc


def _cases(path: Path, limit: int | None) -> Iterator[Case]:
    from mmkp.data.errors import ErrorLog
    from mmkp.data.formats import load_posts
    from mmkp.features.images import ImageError, load_any, resolve

    errors = ErrorLog()
    posts = load_posts(path, errors)
    if not posts:
        raise ValueError(f"{path}: no posts to explain")
    for post in posts[:limit]:
        image = None
        if post.image:
            try:
                image = load_any(resolve(post.image, path.parent))
            except ImageError as exc:
                print(f"post {post.id}: image {exc}: drawn without it", file=sys.stderr)
        yield Case(post.id, post.text, image, list(post.keyphrases))

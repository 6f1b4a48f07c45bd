"""Prediction files and their alignment with gold posts.

Two formats, chosen by the file suffix:
- `.jsonl`: one object per line, `{"id": "42", "keyphrases": ["kca", ...], "scores": [...]}`
  (`id` and `scores` optional); aligned with gold posts by id when every line has one.
- anything else: the benchmark's plain text, `kp1;kp2;...` per line (an empty line is a post
  without predictions); aligned with gold posts by line order.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mmkp.data.errors import RecordError
from mmkp.data.formats import load_posts
from mmkp.data.record import Post
from mmkp.io import atomic_open

SEPARATOR = ";"


@dataclass(frozen=True)
class Prediction:
    """Ranked keyphrases for one post (best first), with optional per-keyphrase scores."""

    id: str | None
    keyphrases: list[str]
    scores: list[float] | None = None

    def __post_init__(self) -> None:
        if self.scores is not None and len(self.scores) != len(self.keyphrases):
            raise ValueError(
                f"prediction {self.id}: {len(self.scores)} scores for "
                f"{len(self.keyphrases)} keyphrases"
            )


def is_jsonl(path: str | Path) -> bool:
    return Path(path).suffix == ".jsonl"


def write_predictions(path: str | Path, predictions: Iterable[Prediction]) -> int:
    """Write atomically as JSONL (`.jsonl`, with ids and scores) or `kp1;kp2` lines."""
    jsonl = is_jsonl(path)
    count = 0
    with atomic_open(path) as handle:
        for pred in predictions:
            handle.write((_to_json_line(pred) if jsonl else _to_text_line(pred, path)) + "\n")
            count += 1
    return count


def _to_json_line(pred: Prediction) -> str:
    obj: dict[str, Any] = {"id": pred.id, "keyphrases": list(pred.keyphrases)}
    if pred.scores is not None:
        obj["scores"] = list(pred.scores)
    return json.dumps(obj, ensure_ascii=False)


def _to_text_line(pred: Prediction, path: str | Path) -> str:
    for kp in pred.keyphrases:
        if SEPARATOR in kp or "\n" in kp or "\r" in kp:
            raise ValueError(
                f"{path}: keyphrase {kp!r} of prediction {pred.id} contains ';' or a line "
                "break and cannot be written as text; use a .jsonl file"
            )
    return SEPARATOR.join(kp.strip() for kp in pred.keyphrases)


def read_predictions(path: str | Path) -> list[Prediction]:
    """Read a JSONL or text prediction file; the first bad line raises a RecordError."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such prediction file")
    return _read_jsonl(path) if is_jsonl(path) else _read_text(path)


def _lines(path: Path) -> list[tuple[int, str]]:
    """(line number, text) of every line, empty ones included; bad UTF-8 raises a RecordError."""
    raw_lines = path.read_bytes().split(b"\n")
    if raw_lines[-1] == b"":
        raw_lines.pop()  # the final newline ends the last line; it does not start an empty one
    lines = []
    for number, raw in enumerate(raw_lines, start=1):
        try:
            lines.append((number, raw.decode("utf-8").rstrip("\r")))
        except UnicodeDecodeError as exc:
            problem = f"not valid UTF-8 ({exc.reason} at byte {exc.start})"
            raise RecordError(path, number, problem) from exc
    return lines


def _read_text(path: Path) -> list[Prediction]:
    return [
        Prediction(None, [kp.strip() for kp in line.split(SEPARATOR) if kp.strip()])
        for _, line in _lines(path)
    ]


def _read_jsonl(path: Path) -> list[Prediction]:
    predictions = []
    for number, line in _lines(path):
        if not line.strip():
            continue
        try:
            predictions.append(_from_json(json.loads(line)))
        except ValueError as exc:  # includes json.JSONDecodeError
            raise RecordError(path, number, str(exc)) from exc
    return predictions


def _from_json(obj: Any) -> Prediction:
    if not isinstance(obj, dict):
        raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
    if "keyphrases" not in obj:
        raise ValueError("missing required field 'keyphrases'")
    keyphrases, scores, post_id = obj["keyphrases"], obj.get("scores"), obj.get("id")
    if not isinstance(keyphrases, list) or not all(isinstance(kp, str) for kp in keyphrases):
        raise ValueError(f"field 'keyphrases' must be a list of strings, got {keyphrases!r}")
    if scores is not None and (
        not isinstance(scores, list)
        or not all(isinstance(s, int | float) and not isinstance(s, bool) for s in scores)
    ):
        raise ValueError(f"field 'scores' must be a list of numbers, got {scores!r}")
    if post_id is not None and (not isinstance(post_id, str | int) or isinstance(post_id, bool)):
        raise ValueError(f"field 'id' must be a string or integer, got {post_id!r}")
    return Prediction(
        id=None if post_id is None else str(post_id),
        keyphrases=keyphrases,
        scores=None if scores is None else [float(s) for s in scores],
    )


def align(
    predictions: Sequence[Prediction],
    posts: Sequence[Post],
    *,
    pred_source: str | Path = "predictions",
    gold_source: str | Path = "gold",
) -> list[list[str]]:
    """Keyphrase lists in the order of `posts`: by id when every prediction has one, else by
    position (then the counts must agree). Errors name both sources and the offending ids."""
    with_ids = [p.id is not None for p in predictions]
    if predictions and all(with_ids):
        return _align_by_id(predictions, posts, pred_source, gold_source)
    if any(with_ids):
        raise ValueError(
            f"{pred_source}: {sum(with_ids)} of {len(predictions)} predictions have an id; "
            "give every prediction an id or none"
        )
    if len(predictions) != len(posts):
        raise ValueError(
            f"{pred_source} has {len(predictions)} prediction lines but {gold_source} has "
            f"{len(posts)} posts; text predictions are matched to posts by line order"
        )
    return [list(p.keyphrases) for p in predictions]


def _align_by_id(
    predictions: Sequence[Prediction],
    posts: Sequence[Post],
    pred_source: str | Path,
    gold_source: str | Path,
) -> list[list[str]]:
    by_id: dict[str, Prediction] = {}
    duplicates = []
    for pred in predictions:
        assert pred.id is not None  # guaranteed by align()
        if pred.id in by_id:
            duplicates.append(pred.id)
        by_id[pred.id] = pred
    gold_ids = {post.id for post in posts}
    problems = []
    if duplicates:
        problems.append(f"ids predicted more than once: {_preview(duplicates)}")
    missing = [post.id for post in posts if post.id not in by_id]
    if missing:
        problems.append(f"{len(missing)} gold posts without a prediction: {_preview(missing)}")
    unknown = [pid for pid in by_id if pid not in gold_ids]
    if unknown:
        problems.append(f"{len(unknown)} predicted ids not in {gold_source}: {_preview(unknown)}")
    if problems:
        raise ValueError(f"{pred_source} does not match {gold_source}: " + "; ".join(problems))
    return [list(by_id[post.id].keyphrases) for post in posts]


def _preview(ids: Sequence[str], limit: int = 10) -> str:
    shown = ", ".join(map(repr, ids[:limit]))
    return shown + (f" … (+{len(ids) - limit} more)" if len(ids) > limit else "")


@dataclass(frozen=True)
class AlignedFiles:
    """Gold posts and, for each, the ranked keyphrases read from a prediction file."""

    predictions: list[list[str]]
    posts: list[Post]


def load_aligned(pred_path: str | Path, gold_path: str | Path) -> AlignedFiles:
    """Read a prediction file and a gold file (JSONL or `<sep>` format) and align them.

    A bad gold record raises rather than being skipped: skipping would shift the
    line-order alignment of text predictions.
    """
    posts = load_posts(gold_path)
    predictions = read_predictions(pred_path)
    aligned = align(predictions, posts, pred_source=pred_path, gold_source=gold_path)
    return AlignedFiles(aligned, posts)

"""Prediction files and their alignment with gold posts.

Two formats, chosen by the file suffix:
- `.jsonl`: one object per line, `{"id": "42", "keyphrases": ["kca", ...], "scores": [...]}`
  (`id` and `scores` optional); aligned with gold posts by id when every line has one.
- anything else: the benchmark's plain text, `kp1;kp2;...` per line (an empty line is a post
  without predictions); aligned with gold posts by line order.

A UTF-8 byte-order mark at the start of either is dropped. `write_predictions` replaces a
file whole; `PredictionWriter` streams a long run into `PATH.partial` and can resume it.
Gold posts with a repeated id are reported and skipped, as every reader does, so the gold
posts are the set `mmkp predict` wrote predictions for.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from mmkp.data.errors import ErrorLog, RecordError, RepeatedIdError
from mmkp.data.formats import load_posts
from mmkp.data.jsonl import parse_json
from mmkp.data.record import Post
from mmkp.io import BOM, atomic_open, output_dir, text_lines

log = logging.getLogger("mmkp.evaluation")

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
    count = 0
    with atomic_open(path) as handle:
        for pred in predictions:
            handle.write(_line(pred, path) + "\n")
            count += 1
    return count


def _line(pred: Prediction, path: str | Path) -> str:
    return _to_json_line(pred) if is_jsonl(path) else _to_text_line(pred, path)


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
    lines = []
    for line in text_lines(path):
        if line.text is None:
            raise RecordError(path, line.number, str(line.problem))
        lines.append((line.number, line.text))
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
            predictions.append(_from_json(parse_json(line)))
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
    line-order alignment of text predictions. A repeated id is the exception: every reader
    (and so `mmkp predict`) skips it, so skipping it here keeps both sides aligned.
    """
    errors = ErrorLog()
    posts = load_posts(gold_path, errors)
    fatal = [error for error in errors.errors if not isinstance(error, RepeatedIdError)]
    if fatal:
        raise fatal[0]
    predictions = read_predictions(pred_path)
    aligned = align(predictions, posts, pred_source=pred_path, gold_source=gold_path)
    return AlignedFiles(aligned, posts)


@dataclass
class PredictionWriter:
    """Predictions written as they come, so a long run can be resumed after a crash.

    Lines go to `PATH.partial`, fsynced every `sync_every` lines; leaving the `with` block
    normally renames it over PATH, so PATH only ever holds a finished run. After a crash or
    Ctrl-C the partial file stays; `resume=True` continues it (or a finished PATH, to add
    posts): `done_ids` (JSONL) or `done` (text, matched by line order) say what to skip.
    """

    path: Path
    resume: bool = False
    sync_every: int = 256
    done: int = 0  # predictions already in the file when resuming
    done_ids: set[str] = field(default_factory=set)
    written: int = 0  # by this run
    _handle: IO[bytes] | None = None

    @property
    def partial(self) -> Path:
        return self.path.with_name(self.path.name + ".partial")

    def __enter__(self) -> PredictionWriter:
        if self.path.is_dir():
            raise IsADirectoryError(f"{self.path}: is a folder; give a predictions file name")
        output_dir(self.path.parent)
        source = self.partial if self.partial.is_file() else self.path
        if self.resume and source.is_file():
            if source == self.path:
                shutil.copyfile(self.path, self.partial)
            os.truncate(self.partial, self._read_done())  # a line torn by the crash goes
        elif self.partial.is_file():
            log.warning("%s: an earlier run's predictions, replaced (see --resume)", self.partial)
        self._handle = open(self.partial, "ab" if self.resume else "wb")
        return self

    def _read_done(self) -> int:
        """Count (and for JSONL, collect the ids of) the whole lines of the partial file,
        streamed; returns their length in bytes."""
        kept = 0
        with open(self.partial, "rb") as handle:
            for number, raw in enumerate(handle, start=1):
                if not raw.endswith(b"\n"):
                    break
                kept += len(raw)
                self.done += 1
                line = raw.removeprefix(BOM).decode("utf-8", errors="replace")
                if is_jsonl(self.path) and line.strip():
                    try:
                        self.done_ids.add(str(_from_json(parse_json(line)).id))
                    except ValueError as exc:
                        problem = f"cannot resume from it: {exc}"
                        raise RecordError(self.partial, number, problem) from exc
        return kept

    def write(self, prediction: Prediction) -> None:
        assert self._handle is not None, "use PredictionWriter in a with block"
        self._handle.write((_line(prediction, self.path) + "\n").encode("utf-8"))
        self.written += 1
        if self.written % self.sync_every == 0:
            self._sync()

    def _sync(self) -> None:
        assert self._handle is not None
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._handle is None:
            return
        self._sync()
        self._handle.close()
        if kind is None:
            os.replace(self.partial, self.path)
        elif self.done + self.written == 0:
            self.partial.unlink(missing_ok=True)  # nothing to resume from
        else:
            kept = self.done + self.written
            log.warning("%s: %d predictions kept for --resume", self.partial, kept)

"""The canonical on-disk format: JSONL, one post per line (see README)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from mmkp.data.errors import ErrorLog, IdCheck, RecordError
from mmkp.data.record import Post
from mmkp.io import atomic_open, text_lines


def iter_lines(path: str | Path, errors: ErrorLog) -> Iterator[tuple[int, str]]:
    """Yield (line number, text) of non-empty lines (a leading BOM dropped); a non-UTF-8 line
    is reported and skipped."""
    for line in text_lines(path):
        if line.text is None:
            errors.add(RecordError(path, line.number, str(line.problem)))
        elif line.text.strip():
            yield line.number, line.text


def parse_json(line: str) -> object:
    """One JSON value; nesting too deep for the parser is a ValueError like any bad JSON."""
    try:
        return json.loads(line)
    except RecursionError as exc:
        raise ValueError("JSON nested too deeply") from exc


def iter_posts(path: str | Path, errors: ErrorLog) -> Iterator[Post]:
    """Stream the posts of a JSONL file; bad lines and repeated ids go to `errors`."""
    ids = IdCheck(path)
    for number, line in iter_lines(path, errors):
        try:
            post = Post.from_dict(parse_json(line))
            ids.check(post.id, number)
        except ValueError as exc:  # json.JSONDecodeError and RecordError included
            errors.add(exc if isinstance(exc, RecordError) else RecordError(path, number, str(exc)))
            continue
        yield post


def read_posts(path: str | Path, errors: ErrorLog | None = None) -> list[Post]:
    """Read a JSONL file of posts. Bad lines go to `errors` (or raise if `errors` is None)."""
    sink = ErrorLog() if errors is None else errors
    posts = list(iter_posts(path, sink))
    if errors is None and sink.errors:
        raise sink.errors[0]
    return posts


def write_posts(path: str | Path, posts: Iterable[Post]) -> int:
    """Write posts atomically; returns how many were written."""
    count = 0
    with atomic_open(path) as handle:
        for post in posts:
            handle.write(json.dumps(post.to_dict(), ensure_ascii=False) + "\n")
            count += 1
    return count

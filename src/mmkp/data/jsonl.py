"""The canonical on-disk format: JSONL, one post per line (see README)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from mmkp.data.errors import ErrorLog, RecordError
from mmkp.data.record import Post
from mmkp.io import atomic_open


def iter_lines(path: str | Path, errors: ErrorLog) -> Iterator[tuple[int, str]]:
    """Yield (line number, text) of non-empty lines; a non-UTF-8 line is reported and skipped."""
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as exc:
                errors.add(
                    RecordError(path, number, f"not valid UTF-8 ({exc.reason} at byte {exc.start})")
                )
                continue
            if line.strip():
                yield number, line


def read_posts(path: str | Path, errors: ErrorLog | None = None) -> list[Post]:
    """Read a JSONL file of posts. Bad lines go to `errors` (or raise if `errors` is None)."""
    sink = ErrorLog() if errors is None else errors
    posts = []
    for number, line in iter_lines(path, sink):
        try:
            posts.append(Post.from_dict(json.loads(line)))
        except (json.JSONDecodeError, ValueError) as exc:
            sink.add(RecordError(path, number, str(exc)))
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

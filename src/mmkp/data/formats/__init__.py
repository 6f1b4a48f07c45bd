"""Readers and writers for the benchmark's file formats (the canonical format is JSONL)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

from mmkp.data.errors import ErrorLog
from mmkp.data.formats.cmkp import read_cmkp
from mmkp.data.formats.ocr_kw import SEP, read_ocr_kw, write_ocr_kw
from mmkp.data.formats.trc import read_trc
from mmkp.data.jsonl import iter_posts, read_posts, write_posts
from mmkp.data.record import Post
from mmkp.io import input_file, text_lines

log = logging.getLogger("mmkp.data")
FORMATS = ("jsonl", "ocr_kw", "cmkp", "trc")
__all__ = [
    "FORMATS",
    "load_posts",
    "read_cmkp",
    "read_ocr_kw",
    "read_trc",
    "save_posts",
    "sniff",
    "stream_posts",
]


def sniff(path: str | Path, *, lines: int = 20) -> str:
    """Tell a posts file's format from its name and first recognisable non-empty line.

    Several lines are looked at so that one malformed first line is reported as a bad
    record by the right reader instead of hiding the file's format.
    """
    path = input_file(path)
    if path.suffix == ".jsonl":
        return "jsonl"
    seen: list[str] = []
    for line in text_lines(path):
        text = (line.text or "").strip()
        if text and (kind := _kind(text)) is not None:
            return kind
        seen += [text] if text else []
        if len(seen) >= lines:
            break
    first = seen[0][:80] if seen else ""
    raise ValueError(
        f"{path}: cannot tell the format (JSONL, 6-field ocr_kw, 3-field CMKP src or TRC csv) "
        f"from its first lines, e.g. {first!r}"
    )


def _kind(line: str) -> str | None:
    if line.startswith("{"):
        return "jsonl"
    if line.lstrip('"').startswith("tweet_id"):
        return "trc"
    return {5: "ocr_kw", 2: "cmkp"}.get(line.count(SEP))


def load_posts(
    path: str | Path, errors: ErrorLog | None = None, *, attribute: str | Path | None = None
) -> list[Post]:
    """Read posts from any supported format, by sniffing; bad lines go to `errors`.

    TRC images are looked up beside the CSV (`T{tweet_id}.jpg`); use `read_trc` to
    point elsewhere. `attribute`: an aligned attribute-words file for an ocr_kw or CMKP file
    (JSONL posts carry their own `attributes` field).
    """
    path = input_file(path)
    kind = sniff(path)
    if attribute is not None and kind not in ("ocr_kw", "cmkp"):
        raise ValueError(
            f"{path}: an aligned attribute file goes with an ocr_kw or CMKP file, not {kind} "
            "(JSONL posts carry their attribute words in an `attributes` field)"
        )
    if kind == "jsonl":
        return read_posts(path, errors)
    if kind == "ocr_kw":
        return read_ocr_kw(path, errors, attribute=attribute)
    if kind == "cmkp":
        return read_cmkp(path, errors, attribute=attribute)
    data = read_trc(path, path.parent, errors)
    if data.missing_images:
        log.warning("%s: %d rows have no image file", path, len(data.missing_images))
    return data.posts


def stream_posts(path: str | Path, errors: ErrorLog) -> Iterator[Post]:
    """`load_posts` one post at a time: a JSONL file is streamed in constant memory (beyond
    the set of ids seen), the benchmark formats are read whole first."""
    path = input_file(path)
    if sniff(path) == "jsonl":
        return iter_posts(path, errors)
    return iter(load_posts(path, errors))


def save_posts(path: str | Path, posts: list[Post], fmt: str = "jsonl") -> int:
    """Write posts as JSONL or in the ocr_kw format; returns how many were written."""
    if fmt == "jsonl":
        return write_posts(path, posts)
    if fmt == "ocr_kw":
        return write_ocr_kw(path, posts)
    raise ValueError(f"cannot write format {fmt!r}: choose jsonl or ocr_kw")

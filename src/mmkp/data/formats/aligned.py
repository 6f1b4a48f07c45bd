"""Side files aligned line by line with a posts file (CMKP `*_ocr.txt`, `*_attribute.txt`).

Line n of a side file belongs to the post read from line n of the main file; empty lines
are meaningful (no OCR for that post), so these files are read without skipping any line.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mmkp.data.errors import ErrorLog, RecordError
from mmkp.data.record import Post
from mmkp.data.tokenize import normalise
from mmkp.io import input_file, text_lines

NumberedPosts = list[tuple[int, Post]]  # (line number in the main file, post)


def read_aligned(path: str | Path, errors: ErrorLog) -> list[str | None]:
    """Every line of `path` (index 0 = line 1); None where a line is not valid UTF-8."""
    lines: list[str | None] = []
    for line in text_lines(input_file(path)):
        if line.text is None:
            errors.add(RecordError(path, line.number, str(line.problem)))
        lines.append(line.text)
    return lines


def attach(
    numbered: NumberedPosts,
    path: str | Path,
    errors: ErrorLog,
    apply: Callable[[Post, str], None],
) -> NumberedPosts:
    """Call `apply(post, line)` with each post's aligned line; posts without one are dropped.

    A post is dropped (and reported) when the side file is too short or its line is not
    UTF-8: attaching nothing would silently give that post different inputs.
    """
    lines = read_aligned(path, errors)
    kept = []
    for number, post in numbered:
        if number > len(lines):
            problem = f"has {len(lines)} lines, no line for the post on line {number}"
            errors.add(RecordError(path, number, problem))
            continue
        line = lines[number - 1]
        if line is None:
            continue
        apply(post, line)
        kept.append((number, post))
    return kept


def set_ocr(post: Post, line: str) -> None:
    """OCR lines may be raw (CMKP `*_ocr.txt`) or cleaned (`*_ocr_final.txt`): normalise both."""
    post.ocr = normalise(line)


def set_attributes(post: Post, line: str) -> None:
    """Image attribute words (the M3H-ATT baseline's input) kept in `extra["attributes"]`."""
    post.extra["attributes"] = line.split()


def attach_side_files(
    numbered: NumberedPosts,
    errors: ErrorLog,
    *,
    ocr: str | Path | None = None,
    attribute: str | Path | None = None,
) -> NumberedPosts:
    if ocr is not None:
        numbered = attach(numbered, ocr, errors, set_ocr)
    if attribute is not None:
        numbered = attach(numbered, attribute, errors, set_attributes)
    return numbered

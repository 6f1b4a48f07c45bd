"""File access every reader and writer shares.

Writes are atomic: a crash mid-write leaves the old file or directory, never half of it.
Text is read through `text_lines` / `read_text`, which drop a UTF-8 byte-order mark (editors
on Windows put one at the start of a file; left in place it would spoil the first record).
Paths given by a user are checked with `input_file` / `output_dir`, so a folder where a file
is expected (or the reverse) is one clear message naming the path.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, NamedTuple

BOM = b"\xef\xbb\xbf"  # the UTF-8 byte-order mark
_UMASK = os.umask(0o22)
os.umask(_UMASK)  # read once: the permissions a plain open() would give


class TextLine(NamedTuple):
    """A line of a text file without its line ending; `problem` says why `text` is None."""

    number: int  # 1-based
    text: str | None
    problem: str | None = None


def text_lines(path: str | Path) -> Iterator[TextLine]:
    """Every line of a UTF-8 text file, empty ones included, streamed; a BOM at the start is
    dropped, `\r\n` endings accepted. A line that is not UTF-8 has text None and a problem."""
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if number == 1 and raw.startswith(BOM):
                raw = raw[len(BOM) :]
            try:
                yield TextLine(number, raw.decode("utf-8").rstrip("\r\n"))
            except UnicodeDecodeError as exc:
                yield TextLine(number, None, f"not valid UTF-8 ({exc.reason} at byte {exc.start})")


def read_text(path: str | Path) -> str:
    """A whole UTF-8 text file without a leading BOM; raises ValueError naming the file when
    it is not UTF-8."""
    data = Path(path).read_bytes()
    try:
        return data.removeprefix(BOM).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not valid UTF-8 ({exc.reason} at byte {exc.start})") from exc


def input_file(path: str | Path) -> Path:
    """`path` if it is a file; else FileNotFoundError / IsADirectoryError saying so."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path}: is a folder, not a file")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    return path


def output_dir(path: str | Path) -> Path:
    """`path` as a folder to write into, created if needed; a file in the way (the path itself
    or one of its parents) is a NotADirectoryError naming it."""
    path = Path(path)
    for folder in (path, *path.parents):
        if folder.exists() and not folder.is_dir():
            needed = "" if folder == path else f" (needed for {path})"
            raise NotADirectoryError(f"{folder}: is a file, not a folder{needed}")
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def atomic_open(path: str | Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Open a temporary file beside `path`; rename it over `path` only if the block succeeds."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path}: is a folder; give a file name to write")
    output_dir(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    binary = "b" in mode
    try:
        with os.fdopen(fd, mode, encoding=None if binary else encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp's 0600 would hide the file from the group
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | Path, text: str) -> None:
    with atomic_open(path, "w") as handle:
        handle.write(text)


def write_json_atomic(path: str | Path, obj: Any) -> None:
    write_text_atomic(path, json.dumps(obj, ensure_ascii=False, indent=2) + "\n")


@contextmanager
def atomic_directory(target: str | Path) -> Iterator[Path]:
    """A temporary directory beside `target` to fill; it replaces `target` only if the block
    succeeds, so an interrupted write leaves the previous directory intact. Its files get the
    permissions a plain open() gives, whatever wrote them."""
    target = Path(target)
    if target.exists() and not target.is_dir():
        raise NotADirectoryError(f"{target}: is a file, not a folder")
    output_dir(target.parent)
    recover_directory(target)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_UMASK)  # mkdtemp's 0700, as for atomic_open
        for path in tmp.rglob("*"):
            if path.is_file() and not path.is_symlink():
                # safetensors writes its files 0600: every file gets what a plain open() gives
                os.chmod(path, 0o666 & ~_UMASK)
        old = target.with_name(f".{target.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        if target.exists():
            target.rename(old)  # as short a gap as possible between the two renames
        tmp.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def recover_directory(target: str | Path) -> None:
    """Undo a replacement that `atomic_directory` could not finish (killed between its two
    renames): the previous directory, moved aside, goes back in place."""
    target = Path(target)
    old = target.with_name(f".{target.name}.old")
    if not target.exists() and old.is_dir():
        old.rename(target)

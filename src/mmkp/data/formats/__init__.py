"""Readers and writers for the benchmark's file formats (the canonical format is JSONL)."""

from __future__ import annotations

from pathlib import Path

from mmkp.data.errors import ErrorLog
from mmkp.data.formats.ocr_kw import read_ocr_kw
from mmkp.data.jsonl import read_posts
from mmkp.data.record import Post


def load_posts(path: str | Path, errors: ErrorLog | None = None) -> list[Post]:
    """Read posts from JSONL (`.jsonl`) or the benchmark's `<sep>` text format, by sniffing."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if path.suffix == ".jsonl":
        return read_posts(path, errors)
    return read_ocr_kw(path, errors)

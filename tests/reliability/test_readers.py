"""Every reader on the generated corpus: each bad line is reported at its line with its
problem, every good post is read, and a BOM or Windows line endings change nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmkp.data.errors import ErrorLog
from mmkp.data.formats import load_posts, stream_posts

from .corpus import Line, cmkp_lines, jsonl_file, jsonl_lines, ocr_kw_lines, text_file, trc_lines


def _check(path: Path, lines: list[Line], *, stream: bool = False) -> None:
    errors = ErrorLog()
    posts = list(stream_posts(path, errors)) if stream else load_posts(path, errors)
    assert [post.id for post in posts] == [line.post_id for line in lines if line.post_id]
    assert not [post.text for post in posts if "\ufeff" in post.text]  # the BOM stuck to one
    found = {error.line: error.problem for error in errors.errors}
    expected = {number: line.problem for number, line in enumerate(lines, 1) if line.problem}
    assert sorted(found) == sorted(expected), errors.errors
    for number, problem in expected.items():
        assert problem in found[number], (number, found[number])


@pytest.mark.parametrize("stream", [False, True])
def test_jsonl_reader(tmp_path: Path, stream: bool) -> None:
    lines = jsonl_lines()
    _check(jsonl_file(tmp_path / "posts.jsonl", lines), lines, stream=stream)
    posts = {post.id: post for post in load_posts(tmp_path / "posts.jsonl", ErrorLog())}
    assert posts["g1"].text == "post number g1 about the kca awards"  # the BOM is not in it
    assert posts["g2"].image is None and posts["g2"].ocr == "" and posts["g2"].keyphrases == []
    assert posts["g3"].text == "line\u2028separator"  # only \n ends a line


@pytest.mark.parametrize(
    ("name", "make"), [("ocr_kw", ocr_kw_lines), ("cmkp", cmkp_lines), ("trc", trc_lines)]
)
def test_benchmark_readers(tmp_path: Path, name: str, make) -> None:
    lines = make()
    _check(text_file(tmp_path / "posts.txt", lines), lines)  # sniffed despite the BOM


def test_a_folder_or_a_missing_file_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(IsADirectoryError, match=r": is a folder, not a file"):
        load_posts(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"nope.jsonl: no such file"):
        load_posts(tmp_path / "nope.jsonl")

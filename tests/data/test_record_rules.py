"""The rules every reader applies (mmkp.data.record): required fields present, typed and not
blank, optional ones null or typed; a BOM, a repeated id or an empty image field handled the
same way by every reader."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mmkp.data.errors import ErrorLog, RepeatedIdError
from mmkp.data.formats import load_posts
from mmkp.data.formats.cmkp import read_cmkp
from mmkp.data.formats.ocr_kw import read_ocr_kw
from mmkp.data.jsonl import read_posts
from mmkp.data.record import Post

BOM = b"\xef\xbb\xbf"
OCR_KW = "the kca awards <seg>   <seg> stage<sep>kca<sep>a.jpg<sep><sep><sep>stage"


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"text": None}, "field 'text' must be a string, got null"),
        ({"text": ["a"]}, "field 'text' must be a string, got [\"a\"]"),
        ({"text": " \t"}, "field 'text' (the post) is empty"),
        ({"id": ""}, "field 'id' is empty"),
        ({"id": False}, "field 'id' must be a string or integer, got false"),
        ({"image": {}}, "field 'image' must be a string or null, got {}"),
        ({"ocr": 3}, "field 'ocr' must be a string or null, got 3"),
        ({"keyphrases": [" "]}, "field 'keyphrases' holds a blank keyphrase"),
        ({"entities": [""]}, "field 'entities' holds a blank entity name"),
        ({"match": 10**400}, "field 'match' must be a probability in [0, 1]"),
        ({"entities": [{"name": "x", "score": 10**400}]}, "entity score must be a number"),
    ],
)
def test_bad_fields_are_refused_naming_the_field(fields: dict, problem: str) -> None:
    with pytest.raises(ValueError) as caught:
        Post.from_dict({"id": "1", "text": "a post"} | fields)
    assert problem in str(caught.value)


def test_optional_fields_may_be_null_and_an_empty_image_means_none() -> None:
    nulls = dict.fromkeys(("image", "ocr", "entities", "keyphrases", "match"))
    post = Post.from_dict({"id": 7, "text": "a post", **nulls})
    assert (post.id, post.image, post.ocr, post.entities, post.keyphrases, post.match) == (
        "7", None, "", [], [], None,
    )  # fmt: skip
    assert Post.from_dict({"id": "1", "text": "t", "image": ""}).image is None
    assert Post.from_dict({"id": "1", "text": "t", "image": "  "}).image is None


def test_a_bom_does_not_cost_the_first_post(tmp_path: Path) -> None:
    jsonl = tmp_path / "posts.jsonl"
    jsonl.write_bytes(BOM + b'{"id": "1", "text": "first"}\n{"id": "2", "text": "second"}\n')
    assert [post.id for post in read_posts(jsonl)] == ["1", "2"]
    sniffed = tmp_path / "posts.txt"  # no suffix to go by: the first line must be sniffed
    sniffed.write_bytes(BOM + jsonl.read_bytes()[len(BOM) :])
    assert [post.text for post in load_posts(sniffed)] == ["first", "second"]
    ocr_kw = tmp_path / "valid_ocr_kw.txt"
    ocr_kw.write_bytes(BOM + OCR_KW.encode() + b"\n")
    assert [post.text for post in read_ocr_kw(ocr_kw)] == ["the kca awards"]


def test_a_bom_in_a_side_file_does_not_stick_to_its_first_line(tmp_path: Path) -> None:
    src = tmp_path / "t_src.txt"
    src.write_text("first post<sep>a.jpg\n")
    trg = tmp_path / "t_trg.txt"
    trg.write_bytes(BOM + b"kca;awards\n")
    assert read_cmkp(src, trg=trg)[0].keyphrases == ["kca", "awards"]


def test_a_repeated_id_is_reported_at_its_line_and_the_first_post_kept(tmp_path: Path) -> None:
    path = tmp_path / "posts.jsonl"
    rows = [{"id": "a", "text": "first"}, {"id": "b", "text": "b"}, {"id": "a", "text": "again"}]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    errors = ErrorLog()
    posts = read_posts(path, errors)
    assert [(post.id, post.text) for post in posts] == [("a", "first"), ("b", "b")]
    (error,) = errors.errors
    assert isinstance(error, RepeatedIdError)
    assert str(error) == f"{path}:3: post id 'a' repeated (first on line 1); kept the first"


def test_every_reader_refuses_an_empty_post_text(tmp_path: Path) -> None:
    ocr_kw = tmp_path / "x_ocr_kw.txt"
    ocr_kw.write_text(OCR_KW.replace("the kca awards", "") + "\n")
    errors = ErrorLog()
    assert read_ocr_kw(ocr_kw, errors) == []
    assert [error.problem for error in errors.errors] == ["field 'text' (the post) is empty"]

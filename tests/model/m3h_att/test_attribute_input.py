"""Image attribute words reach the model: X_A as the fourth segment of X_T, from a post's
`attributes`, a split's aligned attribute file, or the words of its entity names."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmkp.config_loader import load_yaml
from mmkp.data.config import SplitConfig
from mmkp.data.errors import ErrorLog
from mmkp.data.formats import load_posts
from mmkp.data.layout import SEG, TYPE_ENTITY, TYPE_OCR, TYPE_POST, joined, segments
from mmkp.data.processor import TextOptions, TextProcessor
from mmkp.data.record import Entity, Post
from mmkp.data.vocab import LabelSet, Vocab
from mmkp.training.data import load_split

POST = Post(
    "p",
    "kca awards tonight",
    ocr="kids choice",
    entities=[Entity("red carpet"), Entity("crowd")],
    keyphrases=["kca"],
    extra={"attributes": ["people", "stage"]},
)
OCR_KW = (
    "kca awards tonight <seg> kids choice <seg> stage ; crowd <sep> kca <sep> "
    "http://x/1.jpg <sep> tensor([[0.2, 0.8]]) <sep> 1 <sep> stage ; crowd\n"
    "rain in london <seg>   <seg> umbrella <sep> london weather <sep> "
    "http://x/2.jpg <sep> tensor([[0.7, 0.3]]) <sep> 0 <sep> umbrella\n"
)


def tokens(options: TextOptions, post: Post = POST) -> tuple[list[str], list[int]]:
    source = TextProcessor(Vocab.build([post]), LabelSet.build([post]), options).source(post)
    return list(source.tokens), list(source.types)


def test_attributes_are_a_fourth_segment_typed_like_the_entities():
    words, types = tokens(TextOptions(attributes="given"))
    text = ["kca", "awards", "tonight", SEG, "kids", "choice", SEG, "red", "carpet", ";", "crowd"]
    assert words == [*text, SEG, "people", "stage"]
    post, ocr, visual = [TYPE_POST] * 3, [TYPE_OCR] * 3, [TYPE_ENTITY] * 5
    assert types == [*post, *ocr, *visual, TYPE_ENTITY, TYPE_ENTITY, TYPE_ENTITY]


def test_without_attributes_the_layout_is_the_three_part_one():
    assert tokens(TextOptions()) == joined(
        *segments(POST, use_ocr=True, use_entities=True, max_src_len=128)[:3]
    )
    assert tokens(TextOptions())[0][-1] == "crowd"


def test_entity_attributes_are_the_words_of_the_entity_names():
    words, _ = tokens(TextOptions(use_entities=False, attributes="entities"))
    text = ["kca", "awards", "tonight", SEG, "kids", "choice", SEG]
    assert words == [*text, SEG, "red", "carpet", "crowd"]


def test_a_post_without_given_attributes_has_an_empty_attribute_segment():
    bare = Post("q", "rain again", keyphrases=["rain"])
    assert tokens(TextOptions(attributes="given"), bare)[0] == ["rain", "again", SEG, SEG, SEG]


def test_the_ocr_is_cut_before_the_attributes():
    words, _ = tokens(TextOptions(attributes="given", max_src_len=12))
    text = ["kca", "awards", "tonight", SEG, SEG, "red", "carpet", ";", "crowd"]  # no OCR
    assert words == [*text, SEG, "people", "stage"]


def test_the_vocabulary_counts_attribute_words():
    assert "people" not in Vocab.build([POST])
    assert "people" in Vocab.build([POST], attributes="given")


def test_a_malformed_attributes_field_names_the_post():
    bad = Post("q7", "rain", extra={"attributes": [1, 2]})
    with pytest.raises(ValueError, match=r"post 'q7': attributes must be a list of words"):
        tokens(TextOptions(attributes="given"), bad)


def test_a_split_reads_its_aligned_attribute_file(tmp_path: Path):
    (tmp_path / "posts_ocr_kw.txt").write_text(OCR_KW, encoding="utf-8")
    (tmp_path / "posts_attribute.txt").write_text("people stage\nstreet rain\n", encoding="utf-8")
    config = tmp_path / "split.yaml"
    config.write_text("path: posts_ocr_kw.txt\nattribute: posts_attribute.txt\nlast: 2\n")
    split = load_yaml(SplitConfig, config)
    assert split.attribute == str(tmp_path / "posts_attribute.txt")  # relative to the YAML
    posts = load_split(split)
    assert [post.extra["attributes"] for post in posts] == [["people", "stage"], ["street", "rain"]]


def test_an_attribute_file_for_a_jsonl_split_is_refused(tmp_path: Path):
    posts = tmp_path / "posts.jsonl"
    posts.write_text('{"id": "1", "text": "rain"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"posts\.jsonl: an aligned attribute file goes with"):
        load_posts(posts, ErrorLog(), attribute=tmp_path / "a.txt")

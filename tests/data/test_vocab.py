import json

import pytest

from mmkp.data.record import Entity, Post
from mmkp.data.vocab import SPECIALS, UNK_ID, LabelSet, Vocab


def posts() -> list[Post]:
    return [
        Post("1", "b a a", ocr="zz", entities=[Entity("red car")], keyphrases=["kca", "a b"]),
        Post("2", "c b", keyphrases=["kca", " a  b "]),
        Post("3", "d", keyphrases=["kca", "kca"]),
    ]


def test_vocab_orders_by_count_then_alphabetically_and_counts_keyphrase_words():
    vocab = Vocab.build(posts())
    # counts: a 2+2 (post + keyphrases), b 2+2, kca 4 (3 posts, one listing it twice),
    # c 1, d 1, zz 1, red 1, car 1
    assert vocab.words == [*SPECIALS, "a", "b", "kca", "c", "car", "d", "red", "zz"]
    assert vocab.encode(["kca", "nope", "<seg>"]) == [7, UNK_ID, 4]
    assert vocab.word(5) == "a" and len(vocab) == 13


def test_vocab_size_limit_min_count_and_input_switches():
    assert Vocab.build(posts(), max_size=2).words == [*SPECIALS, "a", "b"]
    assert Vocab.build(posts(), min_count=2).words == [*SPECIALS, "a", "b", "kca"]
    words = Vocab.build(posts(), use_ocr=False, use_entities=False).words
    assert "zz" not in words and "car" not in words and "d" in words


def test_vocab_json_round_trip_and_decode_with_oov(tmp_path):
    vocab = Vocab.build(posts())
    vocab.save(tmp_path / "vocab.json")
    loaded = Vocab.load(tmp_path / "vocab.json")
    assert loaded.words == vocab.words
    assert loaded.decode([5, 13, 14], oov_words=["xx", "yy"]) == ["a", "xx", "yy"]
    with pytest.raises(IndexError, match="outside the vocabulary"):
        loaded.word(13)


def test_vocab_load_rejects_bad_files(tmp_path):
    path = tmp_path / "v.json"
    path.write_text(json.dumps({"format": "mmkp-vocab", "words": ["a", "b"]}))
    with pytest.raises(ValueError, match=r"v\.json: the words must start with the specials"):
        Vocab.load(path)
    path.write_text("{not json")
    with pytest.raises(ValueError, match=r"v\.json: not a JSON mmkp-vocab file"):
        Vocab.load(path)
    path.write_text(json.dumps({"format": "mmkp-labels", "keyphrases": []}))
    with pytest.raises(ValueError, match="expected a JSON object with format 'mmkp-vocab'"):
        Vocab.load(path)


def test_label_set_counts_posts_not_mentions_and_normalises_spaces(tmp_path):
    labels = LabelSet.build(posts())
    assert labels.keyphrases == ["kca", "a b"]
    assert labels.index("a   b") == 1 and labels.index("zz") is None
    assert labels.words(1) == ["a", "b"] and labels.keyphrase(0) == "kca"
    assert LabelSet.build(posts(), min_count=3).keyphrases == ["kca"]
    assert LabelSet.build(posts(), max_size=1).keyphrases == ["kca"]
    labels.save(tmp_path / "labels.json")
    loaded = LabelSet.load(tmp_path / "labels.json")
    assert loaded.keyphrases == labels.keyphrases and len(loaded) == 2


def test_label_set_load_rejects_duplicates(tmp_path):
    path = tmp_path / "l.json"
    path.write_text(json.dumps({"format": "mmkp-labels", "keyphrases": ["a", "a"]}))
    with pytest.raises(ValueError, match=r"l\.json: field 'keyphrases' has duplicate entries"):
        LabelSet.load(path)

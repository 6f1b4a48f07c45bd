"""Train/dev/test overlap: warnings by id and by identical text, identity refused."""

from __future__ import annotations

import pytest

from mmkp.data.overlap import split_overlap
from mmkp.data.record import Post

TRAIN = [Post("1", "the kca awards"), Post("2", "rain in london"), Post("3", "new phone")]


def test_separate_splits_give_no_warning() -> None:
    assert split_overlap(TRAIN, [Post("4", "a dev post")], [Post("5", "a test post")]) == []


def test_overlap_by_id_and_by_text_is_one_warning_per_split() -> None:
    dev = [Post("1", "edited text"), Post("9", "  Rain in LONDON "), Post("8", "fresh")]
    test = [Post("3", "new phone")]
    warnings = split_overlap(TRAIN, dev, test)
    assert warnings == [
        "2 of 3 dev posts are training posts: 1 share an id with a training post ('1'); "
        "1 have a training post's text ('9'); dev scores overstate how the model does on "
        "new posts",
        "1 of 1 test posts are training posts: 1 share an id with a training post ('3'); "
        "test scores overstate how the model does on new posts",
    ]


@pytest.mark.parametrize("split", ["dev", "test"])
def test_a_split_identical_to_train_is_refused(split: str) -> None:
    same = list(reversed(TRAIN))  # the same posts in another order
    dev, test = (same, None) if split == "dev" else ([Post("4", "dev")], same)
    with pytest.raises(ValueError, match=f"the {split} split holds exactly the 3 training posts"):
        split_overlap(TRAIN, dev, test)


def test_a_subset_of_train_is_a_warning_not_an_error() -> None:
    (warning,) = split_overlap(TRAIN, TRAIN[:2])
    assert warning.startswith("2 of 2 dev posts are training posts")

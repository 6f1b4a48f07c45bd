"""`score_by_kind` on hand-made posts: exact F1@1 over all posts and per planted kind."""

from __future__ import annotations

import pytest

from mmkp.data.record import Post
from mmkp.evaluation.prediction_files import Prediction
from mmkp.experiments.kinds import score_by_kind


def _post(post_id: str, kind: str, gold: list[str]) -> Post:
    return Post(post_id, "some text", keyphrases=gold, extra={"planted": {"kind": kind}})


POSTS = [
    _post("t", "text", ["pizza night", "taco tuesday"]),
    _post("o", "ocr", ["brunch"]),
    _post("v", "visual", ["vinyl"]),
    _post("n", "noise", ["nba"]),
]


def test_scores_overall_and_per_kind():
    # given in another order than the posts: they are matched by id
    predictions = [
        Prediction("n", []),  # no prediction: P@1 = 0
        Prediction("v", ["concert"]),
        Prediction("o", ["brunch"]),
        Prediction("t", ["pizza night"]),  # one of two gold: P@1 = 1, R@1 = 1/2
    ]
    scores = score_by_kind(predictions, POSTS)
    assert list(scores) == ["all", "text", "ocr", "visual", "noise"]
    # macro F1 from mean P = 2/4 and mean R = 1.5/4: 2·(1/2)·(3/8) / (7/8) = 3/7
    assert scores["all"]["F1@1"] == pytest.approx(300 / 7)
    assert scores["text"]["F1@1"] == pytest.approx(200 / 3)
    assert scores["ocr"]["F1@1"] == pytest.approx(100)
    assert scores["visual"]["F1@1"] == 0
    assert scores["noise"]["F1@1"] == 0


def test_kind_without_posts_has_no_entry():
    scores = score_by_kind([Prediction("o", ["brunch"])], POSTS[1:2])
    assert set(scores) == {"all", "ocr"}
    assert scores["all"] == scores["ocr"]

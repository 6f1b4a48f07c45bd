"""Scores over all posts and per planted kind of generated post (see docs/synthetic.md).

A single number over all posts hides what the image is worth: `text` and `noise` posts are
solved from the text, `ocr` and `visual` ones only through the image. So every experiment on
generated data reports each kind apart, and they all score through `score_by_kind`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from mmkp.data.record import Post
from mmkp.data.synthetic import KINDS
from mmkp.evaluation.metrics import evaluate
from mmkp.evaluation.prediction_files import Prediction

ALL = "all"

# group ("all", then each planted kind) -> metric name -> score in percent
KindScores = dict[str, dict[str, float]]


def score_by_kind(predictions: Iterable[Prediction], posts: Sequence[Post]) -> KindScores:
    """Score predictions (matched to `posts` by id) over all posts, then per planted kind.

    A kind without posts has no entry: the metrics of an empty group are undefined.
    """
    by_id = {prediction.id: prediction.keyphrases for prediction in predictions}
    groups = {ALL: list(posts)} | {
        kind: [post for post in posts if post.extra["planted"]["kind"] == kind] for kind in KINDS
    }
    return {
        group: evaluate([by_id[post.id] for post in members], members).scores
        for group, members in groups.items()
        if members
    }

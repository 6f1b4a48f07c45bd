"""The `frequency` baseline: the most frequent training keyphrases, the same for every post."""

from __future__ import annotations

from collections.abc import Sequence

from mmkp.data.record import Post
from mmkp.evaluation.prediction_files import Prediction
from mmkp.retrieval.base import most_frequent


class FrequencyBaseline:
    """Predicts the top-k training keyphrases by post count; score = share of training posts."""

    def __init__(self) -> None:
        self.ranked: list[tuple[str, float]] = []

    def fit(self, posts: Sequence[Post]) -> FrequencyBaseline:
        if not posts:
            raise ValueError("frequency baseline: no training posts")
        self.ranked = [(kp, count / len(posts)) for kp, count in most_frequent(posts)]
        return self

    def predict(self, posts: Sequence[Post], *, top_k: int = 5) -> list[Prediction]:
        top = self.ranked[:top_k]
        return [Prediction(post.id, [kp for kp, _ in top], [s for _, s in top]) for post in posts]

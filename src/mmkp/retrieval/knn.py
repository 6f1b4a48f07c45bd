"""The `knn` baseline: keyphrases of the k training posts most similar to the query.

Similarity is the TF-IDF cosine of X_T = post text + OCR + entities (`mmkp.data.neighbours`).
Each keyphrase scores the sum of the similarities of the neighbours that carry it. When the
neighbours yield fewer than top_k keyphrases (a query sharing no word with any training
post), the list is filled with the most frequent training keyphrases, scored 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mmkp.data.layout import source_text
from mmkp.data.neighbours import TfidfIndex, TfidfOptions
from mmkp.data.record import Post
from mmkp.evaluation.prediction_files import Prediction
from mmkp.retrieval.base import gold_keyphrases, most_frequent, rank


@dataclass(frozen=True)
class KnnOptions:
    k: int = 40
    fill: bool = True

    def __post_init__(self) -> None:
        if self.k < 1:
            raise ValueError(f"k must be at least 1, got {self.k}")


class NeighbourVote:
    """Turns similarities to the training posts into ranked keyphrases (shared by kNN variants)."""

    def __init__(self, posts: Sequence[Post], options: KnnOptions):
        if not posts:
            raise ValueError("kNN baseline: no training posts")
        self.options = options
        self.keyphrases = [gold_keyphrases(post) for post in posts]
        self.fallback = [kp for kp, _ in most_frequent(posts)]

    def __call__(self, post_id: str, similarities: np.ndarray, top_k: int) -> Prediction:
        """`similarities`: (N,) one per training post; ties go to the earlier training post."""
        order = np.argsort(-similarities, kind="stable")[: self.options.k]
        scores: dict[str, float] = {}
        for row in order:
            if similarities[row] <= 0:
                break
            for kp in self.keyphrases[row]:
                scores[kp] = scores.get(kp, 0.0) + float(similarities[row])
        ranked = rank(scores, scores)[:top_k]
        if self.options.fill:
            seen = {kp for kp, _ in ranked}
            ranked += [(kp, 0.0) for kp in self.fallback if kp not in seen][: top_k - len(ranked)]
        return Prediction(post_id, [kp for kp, _ in ranked], [round(s, 6) for _, s in ranked])


class TfidfKnnBaseline:
    """k nearest training posts by TF-IDF cosine over `mmkp.data.layout.source_text`."""

    def __init__(self, options: KnnOptions | None = None, tfidf: TfidfOptions | None = None):
        self.options = options or KnnOptions()
        self.tfidf = tfidf or TfidfOptions()
        self._index: TfidfIndex | None = None
        self._vote: NeighbourVote | None = None

    def fit(self, posts: Sequence[Post]) -> TfidfKnnBaseline:
        self._vote = NeighbourVote(posts, self.options)
        self._index = TfidfIndex([source_text(p) for p in posts], self.tfidf)
        return self

    def predict(self, posts: Sequence[Post], *, top_k: int = 5) -> list[Prediction]:
        if self._index is None or self._vote is None:
            raise ValueError("kNN baseline: call fit() before predict()")
        similarities = self._index.similarities([source_text(post) for post in posts])  # (M, N)
        return [
            self._vote(post.id, row, top_k) for post, row in zip(posts, similarities, strict=True)
        ]

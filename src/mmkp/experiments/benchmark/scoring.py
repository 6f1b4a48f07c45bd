"""The finished runs of a plan as scores: per run the metrics of its marker, and per post the
scores the paired bootstrap resamples (`mmkp.evaluation`, never recomputed here)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from mmkp.data.config import SplitConfig
from mmkp.data.record import Post
from mmkp.evaluation.metrics import PostScores, post_scores
from mmkp.evaluation.prediction_files import align, read_predictions
from mmkp.training.data import load_split


@dataclass(frozen=True)
class RunScores:
    seed: int | None
    scores: dict[str, float]  # percent, as `evaluate` gives them
    per_post: PostScores
    post_ids: tuple[str, ...]  # the gold posts, in the order of `per_post`


@cache
def gold_posts(split: SplitConfig) -> list[Post]:
    """The posts of a split, read once per benchmark (the real split is 5,370 lines)."""
    return load_split(split)


def read_aligned(predictions: Path, posts: list[Post]) -> list[list[str]]:
    """A run's predictions in the order of its gold posts (by id)."""
    return align(read_predictions(predictions), posts, pred_source=predictions, gold_source="gold")


def run_scores(
    predictions: Path, gold: SplitConfig, seed: int | None, scores: dict[str, float]
) -> RunScores:
    posts = gold_posts(gold)
    per_post = post_scores(read_aligned(predictions, posts), posts)
    return RunScores(seed, scores, per_post, tuple(post.id for post in posts))


def seed_average(runs: list[RunScores]) -> PostScores:
    """One system's per-post scores averaged over its seeds: a paired comparison of two
    systems then resamples posts, with each post's score the system's mean over seeds."""
    first = runs[0].per_post

    def mean(arrays: list[np.ndarray]) -> np.ndarray:
        return np.mean(np.stack(arrays), axis=0)  # (N,)

    return PostScores(
        precision={k: mean([r.per_post.precision[k] for r in runs]) for k in first.precision},
        recall={k: mean([r.per_post.recall[k] for r in runs]) for k in first.recall},
        average_precision=mean([r.per_post.average_precision for r in runs]),
    )

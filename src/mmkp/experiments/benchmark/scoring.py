"""The finished runs of a plan as scores: per run the metrics of its marker, per post the
scores the paired bootstrap resamples (`mmkp.evaluation`, never recomputed here), per planted
kind of post on generated data, and what the run cost (its seconds, prediction posts/s)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from mmkp.data.config import SplitConfig
from mmkp.data.record import Post
from mmkp.evaluation.metrics import PostScores, post_scores
from mmkp.evaluation.prediction_files import Prediction, align, read_predictions
from mmkp.experiments.kinds import KindScores, score_by_kind
from mmkp.training.data import load_split


@dataclass(frozen=True)
class RunScores:
    seed: int | None
    scores: dict[str, float]  # percent, as `evaluate` gives them
    per_post: PostScores
    post_ids: tuple[str, ...]  # the gold posts, in the order of `per_post`
    seconds: float | None = None  # the whole run (training and predicting), wall clock
    predict_seconds: float | None = None  # predicting the scored split, once trained
    by_kind: KindScores | None = None  # generated posts only: "all" and each planted kind

    @property
    def posts_per_second(self) -> float | None:
        if not self.predict_seconds:
            return None
        return len(self.post_ids) / self.predict_seconds


@cache
def gold_posts(split: SplitConfig) -> list[Post]:
    """The posts of a split, read once per benchmark (the real split is 5,370 lines)."""
    return load_split(split)


def read_aligned(predictions: Path, posts: list[Post]) -> list[list[str]]:
    """A run's predictions in the order of its gold posts (by id)."""
    return align(read_predictions(predictions), posts, pred_source=predictions, gold_source="gold")


def run_scores(
    predictions: Path,
    gold: SplitConfig,
    seed: int | None,
    scores: dict[str, float],
    seconds: float | None = None,
) -> RunScores:
    posts = gold_posts(gold)
    ranked = read_aligned(predictions, posts)
    by_kind = None
    if all("planted" in post.extra for post in posts):
        by_kind = score_by_kind(
            [
                Prediction(post.id, keyphrases)
                for post, keyphrases in zip(posts, ranked, strict=True)
            ],
            posts,
        )
    return RunScores(
        seed,
        scores,
        post_scores(ranked, posts),
        tuple(post.id for post in posts),
        seconds=seconds,
        predict_seconds=_predict_seconds(predictions),
        by_kind=by_kind,
    )


def _predict_seconds(predictions: Path) -> float | None:
    """The seconds the run spent predicting, from `<split>_scores.json` beside the
    predictions (written by `mmkp train` and the retrieval job; absent in older runs)."""
    path = predictions.with_name(predictions.name.replace("_predictions.jsonl", "_scores.json"))
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8")).get("predict_seconds")


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

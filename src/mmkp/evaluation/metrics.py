"""The benchmark's standard keyphrase metrics: P/R/F1@1,3,5, MAP@5, present/absent F1@1,3.

Rules (see docs/evaluation.md and ../shared/README.md):
- P@K = hits in the top K / min(K, #predictions), 0 without predictions ("standard"), or
  hits / K ("fixed", the convention of some later work); R@K = hits in the top K / #gold.
- Macro F1@K = 2·P̄·R̄ / (P̄ + R̄) from the mean P and mean R over posts, not the mean of F1s.
- AP@5 = Σ over hit ranks i ≤ 5 of P@i, divided by #gold; MAP@5 is its mean over posts.
- Present/absent sub-scores use only posts with ≥ 1 gold phrase of that kind, and only the
  predictions and gold phrases of that kind.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from mmkp.data.layout import source_text
from mmkp.data.record import Post
from mmkp.evaluation.phrase_match import MatchedPost, Phrase

PrecisionConvention = Literal["standard", "fixed"]
PRECISION_NOTES = {
    "standard": "standard: P@K = hits / min(K, #predictions)",
    "fixed": "fixed: P@K = hits / K (not comparable with the standard convention)",
}
KS = (1, 3, 5)
SUB_KS = (1, 3)
MAX_K = max(KS)
MAIN_METRICS = (*(f"{m}@{k}" for k in KS for m in ("P", "R", "F1")), "MAP@5")
KINDS = {"present": True, "absent": False}


@dataclass(frozen=True)
class PostScores:
    """Per-post P@K, R@K and AP@5 as fractions, each an array (N,) over posts."""

    precision: dict[int, np.ndarray]
    recall: dict[int, np.ndarray]
    average_precision: np.ndarray

    def __len__(self) -> int:
        return len(self.average_precision)

    def macro(self, metric: str, index: np.ndarray | None = None) -> np.ndarray:
        """Macro score (fraction) of "P@K", "R@K", "F1@K" or "MAP@5" over posts.

        `index` (..., N) selects post positions (a bootstrap resample per row) and gives
        scores of shape (...); without it the score is over all posts (a 0-d array).
        """

        def mean(values: np.ndarray) -> np.ndarray:
            return np.asarray((values if index is None else values[index]).mean(axis=-1))

        name, _, k = metric.partition("@")
        if metric == "MAP@5":
            return mean(self.average_precision)
        if name not in ("P", "R", "F1") or not k.isdigit() or int(k) not in self.precision:
            raise ValueError(f"unknown metric {metric!r}; expected P@K, R@K, F1@K or MAP@5")
        p, r = mean(self.precision[int(k)]), mean(self.recall[int(k)])
        if name == "P":
            return p
        if name == "R":
            return r
        return np.divide(2 * p * r, p + r, out=np.zeros_like(p), where=(p + r) > 0)


def score_posts(
    predictions: Sequence[Sequence[Phrase]],
    gold: Sequence[Sequence[Phrase]],
    precision: PrecisionConvention = "standard",
) -> PostScores:
    """Per-post scores of cleaned, ranked predictions against deduplicated gold phrases."""
    n = len(predictions)
    hits = np.zeros((n, MAX_K))  # (N, 5): 1 where the prediction at rank i is gold
    num_pred = np.zeros(n)
    num_gold = np.zeros(n)
    for row, (preds, golds) in enumerate(zip(predictions, gold, strict=True)):
        gold_set = set(golds)
        hits[row, : min(len(preds), MAX_K)] = [p in gold_set for p in preds[:MAX_K]]
        num_pred[row], num_gold[row] = len(preds), len(gold_set)
    if (num_gold == 0).any():
        raise ValueError("every evaluated post needs at least one gold keyphrase")
    cumulative = hits.cumsum(axis=1)  # (N, 5): hits in the top i
    ranks = np.arange(1, MAX_K + 1)
    precision_at: dict[int, np.ndarray] = {}
    recall_at: dict[int, np.ndarray] = {}
    for k in KS:
        denominator = np.full(n, float(k)) if precision == "fixed" else np.minimum(k, num_pred)
        found = cumulative[:, k - 1]
        precision_at[k] = np.divide(found, denominator, out=np.zeros(n), where=denominator > 0)
        recall_at[k] = found / num_gold
    # At a hit rank i ≤ #predictions, min(i, #predictions) = i: both conventions agree on AP.
    average_precision = (hits * cumulative / ranks).sum(axis=1) / num_gold
    return PostScores(precision_at, recall_at, average_precision)


def match_posts(predictions: Sequence[Sequence[str]], posts: Sequence[Post]) -> list[MatchedPost]:
    """Pair each post with its ranked predictions (lists of keyphrase strings), in order."""
    if len(predictions) != len(posts):
        raise ValueError(f"{len(predictions)} prediction lists for {len(posts)} posts")
    matched = []
    for keyphrases, post in zip(predictions, posts, strict=True):
        if isinstance(keyphrases, str):
            raise ValueError(f"post {post.id}: predictions must be a list of keyphrases, not a str")
        item = MatchedPost.build(keyphrases, post.keyphrases, source_text(post))
        if not item.gold:
            raise ValueError(f"post {post.id} has no gold keyphrases; evaluate labelled posts only")
        matched.append(item)
    return matched


def post_scores(
    predictions: Sequence[Sequence[str]],
    posts: Sequence[Post],
    *,
    precision: PrecisionConvention = "standard",
) -> PostScores:
    """Per-post scores over all posts (what the bootstrap in `significance` resamples)."""
    _check_convention(precision)
    matched = match_posts(predictions, posts)
    return score_posts([m.predictions for m in matched], [m.gold for m in matched], precision)


@dataclass(frozen=True)
class EvaluationResult:
    """Scores in percent, keyed "P@1" … "F1@5", "MAP@5", "present_F1@1", "absent_R@3", ….

    A present/absent sub-score is 0.0 when no post has a gold phrase of that kind
    (`num_present_posts` / `num_absent_posts` is then 0).
    """

    scores: dict[str, float]
    num_posts: int
    num_present_posts: int
    num_absent_posts: int
    precision: PrecisionConvention = "standard"

    def to_dict(self) -> dict[str, Any]:
        return {
            "precision": self.precision,
            "precision_note": PRECISION_NOTES[self.precision],
            "num_posts": self.num_posts,
            "num_present_posts": self.num_present_posts,
            "num_absent_posts": self.num_absent_posts,
            "scores": dict(self.scores),
        }

    def format_table(self) -> str:
        """A fixed-width table of all scores (percent, 3 decimals), convention in the title."""

        def row(label: str, prefix: str, k: int) -> str:
            values = "".join(f"{self.scores[f'{prefix}{m}@{k}']:8.3f}" for m in ("P", "R", "F1"))
            return f"{label:<22}{values}"

        lines = [
            f"{self.num_posts} posts; precision convention {PRECISION_NOTES[self.precision]}",
            f"{'':<22}{'P':>8}{'R':>8}{'F1':>8}",
            *(row(f"@{k}", "", k) for k in KS),
            f"{'MAP@5':<22}{self.scores['MAP@5']:8.3f}",
        ]
        for kind, count in (("present", self.num_present_posts), ("absent", self.num_absent_posts)):
            lines += [row(f"{kind} @{k} ({count} posts)", f"{kind}_", k) for k in SUB_KS]
        return "\n".join(lines)


def evaluate(
    predictions: Sequence[Sequence[str]],
    posts: Sequence[Post],
    *,
    precision: PrecisionConvention = "standard",
) -> EvaluationResult:
    """Score ranked keyphrase predictions (one list per post, best first) against gold posts."""
    _check_convention(precision)
    matched = match_posts(predictions, posts)
    overall = score_posts([m.predictions for m in matched], [m.gold for m in matched], precision)
    scores = {metric: 100 * float(overall.macro(metric)) for metric in MAIN_METRICS}
    counts = {}
    for kind, present in KINDS.items():
        subset = [m.of_kind(present) for m in matched if m.has_gold(present)]
        counts[kind] = len(subset)
        sub = score_posts([p for p, _ in subset], [g for _, g in subset], precision)
        for k in SUB_KS:
            for m in ("P", "R", "F1"):
                value = float(sub.macro(f"{m}@{k}")) if subset else 0.0
                scores[f"{kind}_{m}@{k}"] = 100 * value
    return EvaluationResult(
        scores=scores,
        num_posts=len(matched),
        num_present_posts=counts["present"],
        num_absent_posts=counts["absent"],
        precision=precision,
    )


def _check_convention(precision: str) -> None:
    if precision not in PRECISION_NOTES:
        raise ValueError(f"precision must be 'standard' or 'fixed', got {precision!r}")

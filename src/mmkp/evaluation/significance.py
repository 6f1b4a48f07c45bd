"""Paired bootstrap significance test of the difference between two systems' macro scores.

Both systems are scored on the same posts. Each resample draws N post indices with
replacement; the macro metric of A and of B is recomputed on that same sample, giving a
resampled difference δ*_r = m_A(sample r) − m_B(sample r).

Two-sided p-value (bootstrap test by centring, Efron & Tibshirani 1993, §16.4): the resampled
differences, shifted by the observed δ, approximate the distribution of δ under "no
difference", so

    p = (1 + #{r : |δ*_r − δ| ≥ |δ|}) / (R + 1)

The +1 counts the observed sample itself, so p is never 0 and p = 1 for identical systems.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mmkp.evaluation.metrics import PostScores

COMPARED_METRICS = ("F1@1", "F1@3", "MAP@5")
# Rounding noise between two equal macro scores must not count as a difference.
_TOLERANCE = 1e-12


@dataclass(frozen=True)
class BootstrapResult:
    """One metric's comparison, scores in percent; `ci_low`/`ci_high`: 95% interval of δ."""

    metric: str
    score_a: float
    score_b: float
    delta: float
    p_value: float
    ci_low: float
    ci_high: float


def paired_bootstrap(
    scores_a: PostScores,
    scores_b: PostScores,
    *,
    metrics: Sequence[str] = COMPARED_METRICS,
    resamples: int = 1000,
    seed: int = 0,
) -> list[BootstrapResult]:
    """Compare two systems' per-post scores on the same posts (see the module docstring)."""
    n = len(scores_a)
    if n != len(scores_b):
        raise ValueError(f"systems were scored on different posts: {n} vs {len(scores_b)}")
    if n == 0:
        raise ValueError("no posts to compare")
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, got {resamples}")
    index = np.random.default_rng(seed).integers(0, n, size=(resamples, n))  # (R, N)
    results = []
    for metric in metrics:
        delta = float(scores_a.macro(metric) - scores_b.macro(metric))
        resampled = scores_a.macro(metric, index) - scores_b.macro(metric, index)  # (R,)
        extreme = np.abs(resampled - delta) >= abs(delta) - _TOLERANCE
        low, high = np.percentile(resampled, [2.5, 97.5])
        results.append(
            BootstrapResult(
                metric=metric,
                score_a=100 * float(scores_a.macro(metric)),
                score_b=100 * float(scores_b.macro(metric)),
                delta=100 * delta,
                p_value=(1 + int(extreme.sum())) / (resamples + 1),
                ci_low=100 * float(low),
                ci_high=100 * float(high),
            )
        )
    return results


def format_comparison(results: Sequence[BootstrapResult], *, resamples: int, seed: int) -> str:
    """A table of scores, δ = A − B with its 95% interval, and the two-sided p-value."""
    lines = [
        f"paired bootstrap, {resamples} resamples, seed {seed}; delta = A - B (percent points)",
        f"{'metric':<8}{'A':>9}{'B':>9}{'delta':>9}{'95% CI':>20}{'p':>9}",
    ]
    for r in results:
        interval = f"[{r.ci_low:.3f}, {r.ci_high:.3f}]"
        lines.append(
            f"{r.metric:<8}{r.score_a:9.3f}{r.score_b:9.3f}{r.delta:+9.3f}"
            f"{interval:>20}{r.p_value:9.4f}"
        )
    return "\n".join(lines)

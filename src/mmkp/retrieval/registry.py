"""Baselines by name, with their default neighbour counts (tuned on the real dev split)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mmkp.retrieval.base import Baseline

BASELINES = ("frequency", "knn", "knn-minilm")
# Chosen on ../shared dev (lines 4,771-5,370) by MAP@5; see benchmarks/RESULTS.md.
DEFAULT_K = {"knn": 40, "knn-minilm": 10}


def build_baseline(name: str, *, k: int | None = None) -> Baseline:
    """A fresh, unfitted baseline; `k` (neighbours) applies to the kNN ones only."""
    if name not in BASELINES:
        raise ValueError(f"unknown baseline {name!r}; choose from {', '.join(BASELINES)}")
    # Imported on use, so `mmkp baseline --help` (which lists BASELINES) loads no scipy.
    from mmkp.retrieval.frequency import FrequencyBaseline
    from mmkp.retrieval.knn import KnnOptions, TfidfKnnBaseline

    if name == "frequency":
        return FrequencyBaseline()
    options = KnnOptions(k=DEFAULT_K[name] if k is None else k)
    if name == "knn":
        return TfidfKnnBaseline(options)
    from mmkp.retrieval.minilm import MiniLMKnnBaseline  # its heavy imports happen on use only

    return MiniLMKnnBaseline(options)

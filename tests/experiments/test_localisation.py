"""Localisation measures of the noise filter on hand-built region scores with known cells."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest

from mmkp.data.record import Post
from mmkp.experiments.localisation import auc, measure


@dataclass
class Result:
    id: str
    match_score: float | None
    region_scores: np.ndarray | None


def post(post_id: str, kind: str, cells: list[int], generic: bool = False) -> Post:
    planted = {"kind": kind, "cells": cells, "generic_text": generic}
    return Post(post_id, "t", extra={"planted": planted})


def grid(hot: list[int], value: float = 2.0) -> np.ndarray:
    scores = np.zeros(49)
    scores[hot] = value
    return scores.reshape(7, 7)


def test_auc_counts_ties_half():
    assert auc([3.0, 1.0], [1.0, 0.0]) == pytest.approx(0.875)
    assert math.isnan(auc([], [1.0]))


def test_pointing_region_auc_match_auc_and_gates():
    posts = [
        post("hit", "visual", [0, 1]),  # A peaks on a planted cell
        post("miss", "ocr", [10, 11, 12, 13], generic=True),  # A peaks elsewhere
        post("photo", "visual", list(range(49))),  # whole-image box: not located
        post("noise", "noise", [5]),
        post("text", "text", [7]),  # related, not a located kind
    ]
    results = [
        Result("hit", 0.9, grid([1])),
        Result("miss", 0.6, grid([40])),
        Result("photo", 0.8, grid([3])),
        Result("noise", 0.7, grid([], 0.0) - 1.0),
        Result("text", None, None),
    ]
    found = measure(results, posts)
    assert found.located_posts == 2
    assert found.pointing == 0.5
    assert found.chance == pytest.approx((2 + 4) / 49 / 2)
    # hit: covered A {0, 2} vs 47 zeros -> (23.5 + 47) / 94 = 0.75; miss: four 0s vs 44 zeros
    # and one 2 -> 22 / 45
    assert found.region_auc == pytest.approx((0.75 + 22 / 45) / 2)
    assert found.match_auc == pytest.approx(2 / 3)  # 0.9, 0.8 above 0.7; 0.6 below
    assert found.match_auc_named == 1.0  # without the generic-text post "miss"
    sigmoid = 1 / (1 + math.exp(-2.0))
    assert found.gate_related == pytest.approx((3 * sigmoid + 3 * 48 * 0.5) / (3 * 49))
    assert found.gate_unrelated == pytest.approx(1 / (1 + math.e))
    assert found.spread == pytest.approx(np.mean([grid([1]).std()] * 3 + [0.0]))

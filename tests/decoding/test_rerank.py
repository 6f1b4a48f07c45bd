"""The neighbour rerank: exact mixed scores on a hand-built row."""

from __future__ import annotations

import math

import pytest
import torch

from mmkp.data.vocab import LabelSet
from mmkp.decoding.generate import ScoredKeyphrase
from mmkp.decoding.rerank import rerank


def test_model_and_neighbour_scores_mix_by_the_weight():
    labels = LabelSet(["kca", "nba", "oscars"])
    model = [ScoredKeyphrase("kca", math.log(0.75)), ScoredKeyphrase("tv", math.log(0.25))]
    ids = torch.tensor([[1, 0, -100], [-100, -100, -100]])
    votes = torch.tensor([[0.8, 0.2, 0.0], [0.0, 0.0, 0.0]])
    rows = rerank([model, model], ids, votes, labels, weight=0.5, top_k=3)
    # kca: 0.5 * 0.75 + 0.5 * 0.2; nba: 0.5 * 0.8; tv: 0.5 * 0.25
    assert [kp.text for kp in rows[0]] == ["kca", "nba", "tv"]
    assert [math.exp(kp.score) for kp in rows[0]] == pytest.approx([0.475, 0.4, 0.125])
    # no neighbours: the model's own ranking, scores scaled by 1 - weight
    assert [kp.text for kp in rows[1]] == ["kca", "tv"]
    assert [math.exp(kp.score) for kp in rows[1]] == pytest.approx([0.375, 0.125])


def test_weight_one_is_the_neighbour_vote_and_top_k_cuts():
    labels = LabelSet(["a", "b"])
    model = [ScoredKeyphrase("c", 0.0)]
    rows = rerank([model], torch.tensor([[1, 0]]), torch.tensor([[0.6, 0.4]]), labels, 1.0, 1)
    assert [kp.text for kp in rows[0]] == ["b"]

"""Beyond the paper: rerank a model's keyphrases together with its neighbours' votes.

The retrieval counterpart of a late fusion, inside the model's decoding: each row's candidates
(the model's ranked keyphrases, scores turned into a distribution by a softmax) and the
keyphrases of the post's nearest training posts (their normalised votes, `Batch.neighbour_*`)
are mixed,

    score(kp) = (1 - w) softmax(model scores)[kp] + w vote[kp],    w = decode.neighbour_weight

and the `top_k` best kept; a keyphrase from both sides adds both terms. The returned score
is log(score(kp)), so higher is better on a log scale like the generator's.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from mmkp.data.vocab import LabelSet
from mmkp.decoding.generate import ScoredKeyphrase


def rerank(
    rows: Sequence[Sequence[ScoredKeyphrase]],
    neighbour_labels: torch.Tensor,
    neighbour_weights: torch.Tensor,
    labels: LabelSet,
    weight: float,
    top_k: int,
) -> list[list[ScoredKeyphrase]]:
    """rows: each post's ranked candidates; neighbour_labels / neighbour_weights (B, m) as
    the batch carries them -> each post's `top_k` keyphrases by the mixed score."""
    out = []
    for candidates, ids, votes in zip(
        rows, neighbour_labels.tolist(), neighbour_weights.tolist(), strict=True
    ):
        mixed: dict[str, float] = {}
        if candidates:
            best = max(kp.score for kp in candidates)
            exp = [math.exp(kp.score - best) for kp in candidates]
            total = sum(exp)
            for kp, e in zip(candidates, exp, strict=True):
                mixed[kp.text] = mixed.get(kp.text, 0.0) + (1.0 - weight) * e / total
        for label, vote in zip(ids, votes, strict=True):
            if label >= 0 and vote > 0:
                text = labels.keyphrase(label)
                mixed[text] = mixed.get(text, 0.0) + weight * vote
        # sorted() is stable: ties keep the model's order, then the neighbours'
        ranked = sorted(mixed.items(), key=lambda item: -item[1])[:top_k]
        out.append([ScoredKeyphrase(text, math.log(score)) for text, score in ranked])
    return out

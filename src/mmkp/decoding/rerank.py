"""Beyond the paper: rerank a model's keyphrases together with its neighbours' votes.

The retrieval counterpart of a late fusion, inside the model's decoding: each row's candidates
(the model's ranked keyphrases, scores turned into a distribution by a softmax) and the
keyphrases of the post's nearest training posts (their normalised votes, `Batch.neighbour_*`)
are mixed,

    score(kp) = (1 - w) softmax(model scores)[kp] + w vote[kp],    w = decode.neighbour_weight

and the `top_k` best kept; a keyphrase from both sides adds both terms. The returned score
is log(score(kp)), so higher is better on a log scale like the generator's.

With `decode.semantic_weight` s > 0 a third distribution joins the mixture, a softmax over
the candidates (the model's and the neighbours') of their MiniLM cosine to the post at a
temperature T (`mmkp.decoding.semantic`):

    score(kp) = (1 - w - s) softmax(model)[kp] + w vote[kp] + s softmax(cos / T)[kp]

With s = 0 (the default) the rerank is exactly the two-term one above.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from mmkp.data.vocab import LabelSet
from mmkp.decoding.generate import ScoredKeyphrase
from mmkp.decoding.semantic import SemanticQueries, softmax


def rerank(
    rows: Sequence[Sequence[ScoredKeyphrase]],
    neighbour_labels: torch.Tensor,
    neighbour_weights: torch.Tensor,
    labels: LabelSet,
    weight: float,
    top_k: int,
    *,
    semantic: SemanticQueries | None = None,
    semantic_weight: float = 0.0,
    temperature: float = 1.0,
) -> list[list[ScoredKeyphrase]]:
    """rows: each post's ranked candidates; neighbour_labels / neighbour_weights (B, m) as
    the batch carries them (their labels join only when `weight` > 0); `semantic`: the
    batch's post embeddings, for the third term when `semantic_weight` > 0 -> each post's
    `top_k` keyphrases by the mixed score."""
    model_share = 1.0 - weight - semantic_weight  # exactly 1 - w when s = 0
    mixed_rows: list[dict[str, float]] = []
    for candidates, ids, votes in zip(
        rows, neighbour_labels.tolist(), neighbour_weights.tolist(), strict=True
    ):
        mixed: dict[str, float] = {}
        if candidates:
            best = max(kp.score for kp in candidates)
            exp = [math.exp(kp.score - best) for kp in candidates]
            total = sum(exp)
            for kp, e in zip(candidates, exp, strict=True):
                mixed[kp.text] = mixed.get(kp.text, 0.0) + model_share * e / total
        for label, vote in zip(ids, votes, strict=True):
            if weight > 0 and label >= 0 and vote > 0:
                text = labels.keyphrase(label)
                mixed[text] = mixed.get(text, 0.0) + weight * vote
        mixed_rows.append(mixed)
    if semantic is not None and semantic_weight > 0:
        cosines = semantic.cosines([list(mixed) for mixed in mixed_rows])  # one encoder call
        for mixed, cos in zip(mixed_rows, cosines, strict=True):
            texts = list(mixed)
            if not texts:
                continue
            for text, p in zip(texts, softmax([cos[t] for t in texts], temperature), strict=True):
                mixed[text] += semantic_weight * p
    out = []
    for mixed in mixed_rows:
        # sorted() is stable: ties keep the model's order, then the neighbours'
        ranked = sorted(mixed.items(), key=lambda item: -item[1])[:top_k]
        out.append([ScoredKeyphrase(text, math.log(score)) for text, score in ranked])
    return out

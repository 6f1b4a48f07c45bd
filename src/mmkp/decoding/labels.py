"""A classifier head's predictions: the training keyphrases ranked by their logits (eq. 8).

Used for classifier-only models and for scoring a stage that trains only the classifier
(MM-MKP's stage 1 as in eq. 15). Scores are log-softmax values over the whole label set, so
they are comparable across posts like the generator's log-probabilities.
"""

from __future__ import annotations

import torch

from mmkp.data.vocab import LabelSet
from mmkp.decoding.config import DecodeConfig
from mmkp.decoding.generate import ScoredKeyphrase, within_gap


def rank_labels(
    logits: torch.Tensor, labels: LabelSet, decode: DecodeConfig
) -> list[list[ScoredKeyphrase]]:
    """logits (B, num_labels) -> each row's `decode.top_k` best labels, best first (with
    `decode.max_score_gap`'s cut-off)."""
    # Ranked on the logits themselves; the log-softmax only supplies the scores.
    top = logits.topk(min(decode.top_k, logits.size(1)), dim=-1).indices  # (B, k)
    scores = torch.log_softmax(logits.float(), dim=-1).gather(1, top)  # (B, k)
    return [
        within_gap(
            [
                ScoredKeyphrase(labels.keyphrase(i), score)
                for i, score in zip(ids, row, strict=True)
            ],
            decode.max_score_gap,
        )
        for ids, row in zip(top.tolist(), scores.tolist(), strict=True)
    ]

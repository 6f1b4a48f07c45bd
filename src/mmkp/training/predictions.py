"""Ranked keyphrase strings for dev posts: what metric-based early stopping scores.

A stage that trains the generator is judged by its beam search (`generate_texts`); a stage
that does not (stage 1 as in eq. 15) by its classifier's top-k labels (`classify_texts`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict

import torch

from mmkp.config import DecodeConfig
from mmkp.data.batch import Batch
from mmkp.data.vocab import LabelSet, Vocab
from mmkp.decoding.generate import generate_keyphrases
from mmkp.model.mmkp import MMKP


@torch.no_grad()
def generate_texts(
    model: MMKP, batches: Iterable[Batch], vocab: Vocab, decode: DecodeConfig
) -> list[list[str]]:
    """Beam-search (or greedy) keyphrases for every row of `batches` (one row per post)."""
    model.eval()
    predictions: list[list[str]] = []
    for batch in batches:
        rows = generate_keyphrases(
            model,
            batch,
            vocab,
            **asdict(decode),  # DecodeConfig's fields are the search's options
        )
        predictions += [[kp.text for kp in row] for row in rows]
    return predictions


@torch.no_grad()
def classify_texts(
    model: MMKP, batches: Iterable[Batch], labels: LabelSet, top_k: int
) -> list[list[str]]:
    """The classifier's `top_k` most probable labels (eq. 7) for every row of `batches`."""
    model.eval()
    predictions: list[list[str]] = []
    for batch in batches:
        logits = model.encode(batch).label_logits  # (B, num_labels)
        top = logits.topk(min(top_k, logits.size(1)), dim=-1).indices  # (B, k)
        predictions += [[labels.keyphrase(i) for i in row] for row in top.tolist()]
    return predictions

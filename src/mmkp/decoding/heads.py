"""Ranked keyphrases from whichever head a model has: its generator (beam or greedy search)
or its classifier (the labels by logit). One entry point for the predictor and training."""

from __future__ import annotations

from typing import Any, Literal

import torch

from mmkp.data.batch import Batch
from mmkp.data.vocab import LabelSet, Vocab
from mmkp.decoding.config import DecodeConfig
from mmkp.decoding.generate import ScoredKeyphrase, generate_keyphrases
from mmkp.decoding.labels import rank_labels

Head = Literal["generator", "classifier"]


def default_head(model: Any) -> Head:
    """The generator when the model has one, else its classifier."""
    if model.has_generator:
        return "generator"
    if model.has_classifier:
        return "classifier"
    raise ValueError(f"{type(model).__name__} has neither a generator nor a classifier")


@torch.no_grad()
def predict_keyphrases(
    model: Any,
    batch: Batch,
    vocab: Vocab,
    labels: LabelSet,
    decode: DecodeConfig,
    *,
    head: Head | None = None,
    encoded: Any = None,
) -> list[list[ScoredKeyphrase]]:
    """Each row's ranked keyphrases from `head` (default: `default_head(model)`); the model
    must be in eval mode. Pass `encoded` when `model.encode(batch)` was already computed."""
    head = head or default_head(model)
    if encoded is None:
        encoded = model.encode(batch)
    if head == "generator":
        return generate_keyphrases(model, batch, vocab, decode, encoded=encoded)
    if encoded.label_logits is None:
        raise ValueError(f"{type(model).__name__} has no classifier to rank labels with")
    return rank_labels(encoded.label_logits, labels, decode)

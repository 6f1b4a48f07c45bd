"""Ranked keyphrases from whichever head a model has: its generator (beam or greedy search)
or its classifier (the labels by logit). One entry point for the predictor and training."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Literal

import torch

from mmkp.data.batch import Batch
from mmkp.data.vocab import LabelSet, Vocab
from mmkp.decoding.config import DecodeConfig
from mmkp.decoding.generate import ScoredKeyphrase, generate_keyphrases, within_gap
from mmkp.decoding.labels import rank_labels
from mmkp.decoding.rerank import rerank
from mmkp.decoding.semantic import SemanticQueries

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
    semantic: SemanticQueries | None = None,
) -> list[list[ScoredKeyphrase]]:
    """Each row's ranked keyphrases from `head` (default: `default_head(model)`), reranked
    with the neighbours' votes when `decode.neighbour_weight` > 0 and with the MiniLM
    cosines to the posts (`semantic`, the batch's post embeddings) when
    `decode.semantic_weight` > 0; the model must be in eval mode. Pass `encoded` when
    `model.encode(batch)` was already computed."""
    head = head or default_head(model)
    if encoded is None:
        encoded = model.encode(batch)
    if decode.neighbour_weight <= 0 and decode.semantic_weight <= 0:
        return _ranked(model, batch, vocab, labels, decode, head, encoded)
    if decode.neighbour_weight > 0 and (
        batch.neighbour_labels is None or batch.neighbour_weights is None
    ):
        raise ValueError(
            "decode.neighbour_weight needs the neighbours' votes in the batch: a model saved "
            "with model.retrieval (its index)"
        )
    if decode.semantic_weight > 0 and semantic is None:
        raise ValueError(
            "decode.semantic_weight needs the posts' embeddings: predict through "
            "mmkp.inference.Predictor (mmkp predict), which embeds them"
        )
    wide = replace(decode, top_k=max(decode.top_k, decode.rerank_candidates), max_score_gap=None)
    rows = _ranked(model, batch, vocab, labels, wide, head, encoded)
    no_votes = torch.full((len(rows), 0), -1)  # a model without retrieval: no neighbours
    mixed = rerank(
        rows,
        no_votes if batch.neighbour_labels is None else batch.neighbour_labels,
        no_votes if batch.neighbour_weights is None else batch.neighbour_weights,
        labels,
        decode.neighbour_weight,
        decode.top_k,
        semantic=semantic,
        semantic_weight=decode.semantic_weight,
        temperature=decode.semantic_temperature,
    )
    return [within_gap(row, decode.max_score_gap) for row in mixed]


def _ranked(
    model: Any,
    batch: Batch,
    vocab: Vocab,
    labels: LabelSet,
    decode: DecodeConfig,
    head: Head,
    encoded: Any,
) -> list[list[ScoredKeyphrase]]:
    if head == "generator":
        return generate_keyphrases(model, batch, vocab, decode, encoded=encoded)
    if encoded.label_logits is None:
        raise ValueError(f"{type(model).__name__} has no classifier to rank labels with")
    return rank_labels(encoded.label_logits, labels, decode)

"""One builder maps a config, vocabulary and label set to a model."""

from __future__ import annotations

import torch

from mmkp.data.vocab import PAD_ID, LabelSet, Vocab
from mmkp.model.config import ModelConfig
from mmkp.model.embeddings import PretrainedEmbeddings
from mmkp.model.mmkp import MMKP


def label_word_ids(vocab: Vocab, labels: LabelSet) -> torch.Tensor:
    """(num_labels, max_kp_len) vocab ids of each label's words, padded with <pad>."""
    rows = [vocab.encode(labels.words(i)) for i in range(len(labels))]
    table = torch.full((len(rows), max((len(r) for r in rows), default=1)), PAD_ID)
    for i, row in enumerate(rows):
        table[i, : len(row)] = torch.tensor(row)
    return table


def build_model(
    config: ModelConfig,
    vocab: Vocab,
    labels: LabelSet,
    embeddings: PretrainedEmbeddings | None = None,
) -> MMKP:
    """A freshly initialised MMKP; `embeddings` (see `load_embeddings`) seed the word table."""
    return MMKP(
        config,
        vocab_size=len(vocab),
        label_word_ids=label_word_ids(vocab, labels),
        embeddings=embeddings,
    )

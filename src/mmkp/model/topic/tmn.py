"""TMN: topic memory network (Zeng et al., EMNLP 2018), a keyphrase classifier.

    topics:   BoW(X_T) --TopicModel--> theta (B, T), beta (T, K)      (modules/topic_model.py)
    encode:   X_T --TextEncoder--> H (B, L, d)
    memory:   M_k = ReLU(W_m beta_k + b_m)              topic k's words as a memory slot (T, d)
              P_l = H_l M^T                            each word's match with every topic (T,)
              J_l = ReLU(W_f (theta + P_l) + b_f)      the match, shifted by the post's mixture
              O_l = ReLU(W_o (J_l + H_l) + b_o)        (B, L, d)
    classify: logits = W_c maxpool_l(O_l) + b_c        over the training keyphrases
    losses:   "cla" (cross-entropy over the labels) and "ntm" (the NTM's negative ELBO)

The memory follows the public code's one-hop form; beta is read without gradient, as the
code freezes its copy of the topic-word matrix, so only "ntm" shapes the topics. The code's
word features are projected GloVe vectors read by a CNN; here they are the package's Bi-GRU
states, max-pooled.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import ClassVar

import torch
from torch import nn

from mmkp.data.batch import Batch
from mmkp.data.vocab import LabelSet, Vocab
from mmkp.model.config import ModelConfig
from mmkp.model.modules.classifier import classification_loss
from mmkp.model.modules.embeddings import PretrainedEmbeddings, init_word_embeddings
from mmkp.model.modules.text_encoder import TextEncoder, masked_max
from mmkp.model.modules.topic_model import (
    TopicMixture,
    TopicModel,
    bow_word_ids,
    topic_model_loss,
)
from mmkp.model.outputs import Encoded, Losses
from mmkp.model.protocol import INPUT_TEXT
from mmkp.model.topic.config import NTM_TERM, TMNConfig


class TopicMemory(nn.Module):
    def __init__(self, bow_size: int, num_topics: int, size: int) -> None:
        super().__init__()
        self.slots = nn.Linear(bow_size, size)  # W_m
        self.match = nn.Linear(num_topics, size)  # W_f
        self.out = nn.Linear(size, size)  # W_o

    def forward(
        self, states: torch.Tensor, theta: torch.Tensor, topic_words: torch.Tensor
    ) -> torch.Tensor:
        """H (B, L, d), theta (B, T), beta (T, K) -> O (B, L, d)."""
        memory = torch.relu(self.slots(topic_words))  # (T, d)
        match = states @ memory.t()  # (B, L, T)
        joint = torch.relu(self.match(theta.unsqueeze(1) + match))  # (B, L, d)
        return torch.relu(self.out(joint + states))


class TopicMemoryNetwork(nn.Module):
    has_generator: ClassVar[bool] = False
    has_classifier: ClassVar[bool] = True
    inputs: ClassVar[frozenset[str]] = frozenset({INPUT_TEXT})

    def __init__(
        self,
        config: TMNConfig,
        *,
        vocab_size: int,
        num_labels: int,
        bow_ids: list[int],
        embeddings: PretrainedEmbeddings | None = None,
    ) -> None:
        super().__init__()
        if num_labels < 1:
            raise ValueError("TMN needs training keyphrases: the label set is empty")
        self.config = config
        d = 2 * config.hidden_size
        self.text_encoder = TextEncoder(
            vocab_size, config.emb_size, config.hidden_size, config.dropout
        )
        self.topic_model = TopicModel(vocab_size, bow_ids, config.num_topics, config.topic_hidden)
        self.memory = TopicMemory(len(bow_ids), config.num_topics, d)
        self.classifier = nn.Sequential(nn.Dropout(config.dropout), nn.Linear(d, num_labels))
        init_word_embeddings(
            self.text_encoder.embedding, embeddings, others=(self.text_encoder.type_embedding,)
        )

    def encode(self, batch: Batch) -> Encoded:
        return self._encode(batch, self.topic_model(batch.src_ids, batch.src_mask))

    def _encode(self, batch: Batch, topics: TopicMixture) -> Encoded:
        text = self.text_encoder(batch.src_ids, batch.src_types, batch.src_mask)
        beta = self.topic_model.topic_words().detach()  # (T, K)
        read = self.memory(text.memory, topics.theta, beta)  # (B, L, d)
        logits = self.classifier(masked_max(read, batch.src_mask))  # (B, num_labels)
        return Encoded.of_text(text, batch.src_mask, label_logits=logits)

    def forward(self, batch: Batch, terms: Collection[str]) -> Losses:
        """The requested terms; "ntm" alone (the NTM's pre-training) runs the topic model only."""
        unknown = set(terms) - set(self.config.loss_terms)
        if unknown:
            raise ValueError(
                f"unknown loss terms {sorted(unknown)}; known: {self.config.loss_terms}"
            )
        topics = self.topic_model(batch.src_ids, batch.src_mask)
        losses = Losses()
        if NTM_TERM in terms:
            losses[NTM_TERM] = topic_model_loss(topics)
        if "cla" in terms:
            logits = self._encode(batch, topics).label_logits
            assert logits is not None
            losses["cla"] = classification_loss(logits, batch.label)
        return losses


def build_tmn(
    config: ModelConfig,
    vocab: Vocab,
    labels: LabelSet,
    embeddings: PretrainedEmbeddings | None = None,
) -> TopicMemoryNetwork:
    """A freshly initialised TMN over the label set and the vocabulary's topic words."""
    assert isinstance(config, TMNConfig)
    return TopicMemoryNetwork(
        config,
        vocab_size=len(vocab),
        num_labels=len(labels),
        bow_ids=bow_word_ids(vocab, config.bow_size),
        embeddings=embeddings,
    )

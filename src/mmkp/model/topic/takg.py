"""TOPIC: TAKG (Wang et al., ACL 2019), CopyRNN conditioned on the post's latent topics.

    topics:   BoW(X_T) --TopicModel--> theta (B, T)             (modules/topic_model.py)
    encode:   X_T --TextEncoder--> H_T, s_0, as COPY
    decode:   x_j = [e(y_{j-1}); s_j; c_j + W_t theta]               the topic joins every step
              P(w) = COPY's pointer-generator over x_j
    losses:   "ntm" (the NTM's negative ELBO) and "gen" (L_gen), summed when trained jointly

TAKG's decoder feeds [c_j; s_j; theta] to its output layer (`-topic_attn`, its default);
adding W_t theta to c_j gives the output layer the same linear access to theta (and the copy
switch too, which TAKG's default does not). The topic vector travels in `Encoded.fused`, the
slot PointerDecoding adds to every context vector.
"""

from __future__ import annotations

from collections.abc import Collection

from torch import nn

from mmkp.data.batch import Batch
from mmkp.data.vocab import LabelSet, Vocab
from mmkp.model.config import ModelConfig
from mmkp.model.modules.embeddings import PretrainedEmbeddings
from mmkp.model.modules.topic_model import (
    TopicMixture,
    TopicModel,
    bow_word_ids,
    topic_model_loss,
)
from mmkp.model.outputs import Encoded, Losses
from mmkp.model.seq2seq.model import Seq2Seq
from mmkp.model.topic.config import NTM_TERM, TakgConfig


class TopicAwareSeq2Seq(Seq2Seq):
    def __init__(
        self,
        config: TakgConfig,
        *,
        vocab_size: int,
        bow_ids: list[int],
        embeddings: PretrainedEmbeddings | None = None,
    ) -> None:
        super().__init__(
            config,
            vocab_size=vocab_size,
            hidden_size=config.hidden_size,
            dropout=config.dropout,
            copy=True,
            embeddings=embeddings,
        )
        self.topic_model = TopicModel(vocab_size, bow_ids, config.num_topics, config.topic_hidden)
        self.topic_projection = nn.Linear(config.num_topics, 2 * config.hidden_size, bias=False)

    def encode(self, batch: Batch) -> Encoded:
        return self._encode(batch, self.topic_model(batch.src_ids, batch.src_mask))

    def _encode(self, batch: Batch, topics: TopicMixture) -> Encoded:
        text = self.text_encoder(batch.src_ids, batch.src_types, batch.src_mask)
        return Encoded.of_text(text, batch.src_mask, fused=self.topic_projection(topics.theta))

    def forward(self, batch: Batch, terms: Collection[str]) -> Losses:
        """The requested terms; "ntm" alone (TAKG's NTM warm-up) runs the topic model only."""
        self.check_terms(terms)
        topics = self.topic_model(batch.src_ids, batch.src_mask)
        losses = Losses()
        if NTM_TERM in terms:
            losses[NTM_TERM] = topic_model_loss(topics)
        if "gen" in terms:
            losses["gen"] = self.generation_loss(batch, self._encode(batch, topics))
        return losses


def build_takg(
    config: ModelConfig,
    vocab: Vocab,
    labels: LabelSet,
    embeddings: PretrainedEmbeddings | None = None,
) -> TopicAwareSeq2Seq:
    """A freshly initialised TAKG over the vocabulary's `config.bow_size` topic words."""
    assert isinstance(config, TakgConfig)
    return TopicAwareSeq2Seq(
        config,
        vocab_size=len(vocab),
        bow_ids=bow_word_ids(vocab, config.bow_size),
        embeddings=embeddings,
    )

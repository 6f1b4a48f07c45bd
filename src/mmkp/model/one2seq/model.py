"""One2Seq (Yuan et al., 2020; the Transformer form of Ye et al., 2021): one sequence per
post holding all its keyphrases, present ones first, joined by `<seg>` (their `<sep>`).

    encode:  X_T --TransformerTextEncoder--> H                              (B, L, d)
    decode:  y = kp_1 <seg> kp_2 <seg> ... kp_n <eos> --TransformerCopyDecoder--> P(y_j)
    loss:    L_gen = -sum_j log P(y_j), averaged over the posts that have keyphrases

The data must hold one row per post (`data.targets: one2seq`). Decoding is the package's
beam or greedy search over the joined sequence; `keyphrase_separator` tells
`mmkp.decoding` to let the search produce `<seg>` and to split each sequence there, so a
post's keyphrases are ranked in generation order (those of the best sequence first).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import ClassVar

from mmkp.data.batch import Batch
from mmkp.data.vocab import SEG_ID, LabelSet, Vocab
from mmkp.model.config import ModelConfig
from mmkp.model.modules.decoder import DecoderState
from mmkp.model.modules.embeddings import PretrainedEmbeddings, init_word_embeddings
from mmkp.model.modules.transformer_generator import (
    TransformerGenerator,
    require_one_row_per_post,
    sequence_loss,
)
from mmkp.model.one2seq.config import One2SeqConfig
from mmkp.model.outputs import Encoded, Losses


class One2Seq(TransformerGenerator):
    config: One2SeqConfig
    keyphrase_separator: ClassVar[int] = SEG_ID  # decoding splits generated sequences here

    def __init__(
        self,
        config: One2SeqConfig,
        *,
        vocab_size: int,
        embeddings: PretrainedEmbeddings | None = None,
    ):
        super().__init__(config, vocab_size=vocab_size)
        init_word_embeddings(
            self.encoder.embedding, embeddings, others=(self.encoder.type_embedding,)
        )

    def forward(self, batch: Batch, terms: Collection[str]) -> Losses:
        """L_gen of the joined target sequences (teacher forcing)."""
        self.check_terms(terms)
        losses = Losses()
        if "gen" in terms:
            require_one_row_per_post(batch, self.config.name)
            encoded = self.encode(batch)
            state = self.init_decoder_state(batch, encoded)
            nll = self.decoder(batch.trg_in, batch.trg_out, batch.trg_mask, state)
            losses["gen"] = sequence_loss(nll, batch.trg_mask)
        return losses

    def init_decoder_state(self, batch: Batch, encoded: Encoded) -> DecoderState:
        assert encoded.memory is not None
        return self.decoder.start(
            encoded.memory, batch.src_mask, batch.src_ext_ids, self.vocab_size + batch.max_oov
        )


def build_one2seq(
    config: ModelConfig,
    vocab: Vocab,
    labels: LabelSet,
    embeddings: PretrainedEmbeddings | None = None,
) -> One2Seq:
    """A freshly initialised One2Seq for the vocabulary (it has no use for the labels)."""
    assert isinstance(config, One2SeqConfig)
    return One2Seq(config, vocab_size=len(vocab), embeddings=embeddings)

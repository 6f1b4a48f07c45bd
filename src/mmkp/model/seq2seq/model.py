"""ATT and COPY: a Bi-GRU encoder and an attentive GRU decoder over the source X_T.

    encode:   X_T --TextEncoder--> H_T, s_0 = [last forward ; last backward]
    decode:   y_{j-1}, s_{j-1}, H_T --Decoder--> s_j, alpha_j, c_j     (Bahdanau attention)
              x_j = [e(y_{j-1}); s_j; c_j]
    ATT:      P(w) = softmax(W_o x_j + b_o) over the vocabulary; source words outside it are
              <unk> in the targets (decoding replaces a generated <unk> by the most attended
              source word)
    COPY:     P(w) = lambda p_p(w) + (1 - lambda) sum_i alpha_ji [x_i = w]  over V_ext
              (CopyGenerator without a classifier copy: CopyRNN's pointer-generator)
    loss:     L_gen, the targets' token NLL per row, averaged over the rows

`Seq2Seq` also serves TAKG (mmkp.model.topic), which adds a topic vector to c_j.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, ClassVar

import torch
from torch import nn

from mmkp.data.batch import Batch
from mmkp.data.vocab import UNK_ID, LabelSet, Vocab
from mmkp.model.config import ModelConfig
from mmkp.model.modules.copy_generator import CopyGenerator, LabelCopy, generation_loss
from mmkp.model.modules.decoder import Decoder, DecoderState
from mmkp.model.modules.embeddings import PretrainedEmbeddings, init_word_embeddings
from mmkp.model.modules.pointer_decoding import PointerDecoding
from mmkp.model.modules.support import Support
from mmkp.model.modules.text_encoder import TextEncoder
from mmkp.model.outputs import Encoded, Losses
from mmkp.model.protocol import INPUT_TEXT
from mmkp.model.seq2seq.config import Seq2SeqConfig


class VocabularyGenerator(nn.Module):
    """ATT's output layer, P(w) = softmax(W_o x_j + b_o) over the vocabulary alone. It takes
    CopyGenerator's arguments so that PointerDecoding drives either; the copy sources are
    unused, and the result has |V| columns (no extended ids: nothing is copied)."""

    def __init__(self, features: int, vocab_size: int, dropout: float) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(features, vocab_size)

    def forward(
        self,
        features: torch.Tensor,
        attention: torch.Tensor,
        src_ext_ids: torch.Tensor,
        ext_size: int,
        labels: LabelCopy | None,
        targets: torch.Tensor | None = None,
        support: Support | None = None,
    ) -> torch.Tensor:
        """x_j (B, T, F) -> log P (B, T, V); at `targets` (B, T) only: (B, T, 1). `support`
        is always None (`support`)."""
        log_probs = torch.log_softmax(self.out(self.dropout(features)), dim=-1)
        return log_probs if targets is None else log_probs.gather(2, targets.unsqueeze(-1))

    def support(
        self, src_ext_ids: torch.Tensor, labels: LabelCopy | None, ext_size: int
    ) -> Support | None:
        """None: every one of the |V| columns can be non-zero, so steps score them all."""
        return None


class Seq2Seq(PointerDecoding, nn.Module):
    has_generator: ClassVar[bool] = True
    has_classifier: ClassVar[bool] = False
    inputs: ClassVar[frozenset[str]] = frozenset({INPUT_TEXT})

    def __init__(
        self,
        config: ModelConfig,
        *,
        vocab_size: int,
        hidden_size: int,
        dropout: float,
        copy: bool,
        embeddings: PretrainedEmbeddings | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        self.vocab_size = vocab_size
        self.copies = copy
        e, d = config.emb_size, 2 * hidden_size
        self.text_encoder = TextEncoder(vocab_size, e, hidden_size, dropout)
        self.decoder = Decoder(e, d)
        self.generator: nn.Module = (
            CopyGenerator(e + 2 * d, d, vocab_size, dropout, classifier_copy=False, hidden=False)
            if copy
            else VocabularyGenerator(e + 2 * d, vocab_size, dropout)
        )
        self.input_dropout = nn.Dropout(dropout)
        # The word table is shared by the decoder.
        init_word_embeddings(
            self.text_encoder.embedding, embeddings, others=(self.text_encoder.type_embedding,)
        )

    def encode(self, batch: Batch) -> Encoded:
        text = self.text_encoder(batch.src_ids, batch.src_types, batch.src_mask)
        return Encoded.of_text(text, batch.src_mask)

    def forward(self, batch: Batch, terms: Collection[str]) -> Losses:
        self.check_terms(terms)
        losses = Losses()
        if "gen" in terms:
            losses["gen"] = self.generation_loss(batch, self.encode(batch))
        return losses

    def check_terms(self, terms: Collection[str]) -> None:
        unknown = set(terms) - set(self.config.loss_terms)
        if unknown:
            raise ValueError(
                f"unknown loss terms {sorted(unknown)}; known: {self.config.loss_terms}"
            )

    def generation_loss(self, batch: Batch, encoded: Encoded) -> torch.Tensor:
        """L_gen; without copying, a target word outside the vocabulary is <unk>."""
        log_probs = self.teacher_forced(batch, encoded)  # (B, T, V_ext) or (B, T, V)
        targets = batch.trg_out
        if not self.copies:
            targets = targets.masked_fill(targets >= self.vocab_size, UNK_ID)
        return generation_loss(log_probs, targets, batch.trg_mask)

    def init_decoder_state(self, batch: Batch, encoded: Any) -> DecoderState:
        """s_0, the source memory and (`encoded.fused`, TAKG's topic vector) what is added to
        every context vector."""
        return self.source_state(batch, encoded)


def build(
    config: ModelConfig,
    vocab: Vocab,
    labels: LabelSet,
    embeddings: PretrainedEmbeddings | None = None,
) -> Seq2Seq:
    """A freshly initialised ATT or COPY model (`config.name`) for the vocabulary."""
    assert isinstance(config, Seq2SeqConfig)
    return Seq2Seq(
        config,
        vocab_size=len(vocab),
        hidden_size=config.hidden_size,
        dropout=config.dropout,
        copy=config.copies,
        embeddings=embeddings,
    )

"""M3H-ATT, the unified framework of CMKP (Wang et al., EMNLP 2020), top to bottom.

    encode:   X_S <seg> X_O <seg> X_E --text encoder--> H_T, M_T     (Bi-GRU; TF: Transformer)
              grid --ImageEncoder--> H_I;  X_A --W_A e(.)--> attribute vectors
              image query q (grid + attributes) --M3HAttention over H_T--> H_f, label logits
    decode:   y_{j-1}, H_T --decoder--> s_j, alpha_j, c_j             (GRU; TF: Transformer)
              [e(y_{j-1}); s_j; c_j + H_f] --CopyGenerator--> P(y_j): vocabulary, copy from
              X_T and from the words of the classifier's top-k keyphrases
    losses:   cla (classification) + gen (generation), jointly; stage 2 fine-tunes the generator

The image wordings are inputs: OCR words are X_O (data.use_ocr), attribute words X_A
(data.attributes). `encoder: transformer` swaps the text encoder and the decoder only.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from typing import ClassVar

import torch
from torch import nn

from mmkp.data.batch import Batch
from mmkp.data.vocab import LabelSet, Vocab
from mmkp.model.config import ModelConfig
from mmkp.model.m3h_att.config import M3HAttConfig
from mmkp.model.m3h_att.fusion import M3HAttention, split_source
from mmkp.model.mmkp.model import label_word_ids
from mmkp.model.modules.classifier import classification_loss
from mmkp.model.modules.copy_generator import CopyGenerator, generation_loss, label_copy
from mmkp.model.modules.decoder import Decoder, DecoderState
from mmkp.model.modules.embeddings import PretrainedEmbeddings, init_word_embeddings
from mmkp.model.modules.image_encoder import ImageEncoder
from mmkp.model.modules.pointer_decoding import PointerDecoding
from mmkp.model.modules.text_encoder import TextEncoder
from mmkp.model.modules.transformer import (
    StackOptions,
    TransformerPointerDecoder,
    TransformerTextEncoder,
)
from mmkp.model.outputs import Encoded, Losses
from mmkp.model.protocol import INPUT_GRID, INPUT_TEXT

# CMKP's copy from the classifier ("combine_direct"): every word of the top-k keyphrases is
# an entry carrying its keyphrase's logit, one softmax over the entries, and the source and
# the keyphrases share the copy mass equally (normalised here: see copy_generator.py).
LABEL_COPY_FORM = "word_softmax"
COPY_LAMBDA = 0.5
FFN_FACTOR = 2  # M3H-ATT(TF)'s feed-forward width = 2 d (short posts, a CPU budget)


def post_ln_stack(config: M3HAttConfig) -> StackOptions:
    """M3H-ATT(TF)'s layout: torch's post-LN layers, a LayerNorm on the inputs, unscaled
    words, positions computed per call."""
    return StackOptions(
        num_heads=config.num_heads,
        ff_size=FFN_FACTOR * config.size,
        dropout=config.dropout,
        norm_first=False,
        input_norm=True,
        scale_words=False,
        words_in_input=False,
        precomputed_positions=False,
        causal_hint=True,
        input_name="input",
    )


class M3HAtt(PointerDecoding, nn.Module):
    has_generator: ClassVar[bool] = True
    has_classifier: ClassVar[bool] = True

    def __init__(
        self,
        config: M3HAttConfig,
        *,
        vocab_size: int,
        label_word_ids: torch.Tensor,
        embeddings: PretrainedEmbeddings | None = None,
    ):
        super().__init__()
        if label_word_ids.dim() != 2 or label_word_ids.size(0) == 0:
            raise ValueError(
                "label_word_ids must be (num_labels >= 1, max_kp_len), got shape "
                f"{tuple(label_word_ids.shape)}: the classifier needs training keyphrases"
            )
        self.config = config
        self.vocab_size = vocab_size
        c, d, e = config, config.size, config.emb_size
        if c.encoder == "gru":
            self.text_encoder: nn.Module = TextEncoder(
                vocab_size, e, c.hidden_size, c.dropout, layers=c.encoder_layers
            )
            self.decoder: nn.Module = Decoder(e, d)
        else:
            stack = post_ln_stack(c)
            self.text_encoder = TransformerTextEncoder(vocab_size, e, d, c.encoder_layers, stack)
            self.decoder = TransformerPointerDecoder(e, d, c.decoder_layers, stack)
        self.image_encoder = ImageEncoder(c.image_dim, d, c.dropout) if c.use_image else None
        self.fusion = M3HAttention(e, d, label_word_ids.size(0), c.num_heads, c.dropout)
        self.generator = CopyGenerator(
            e + 2 * d, d, vocab_size, c.dropout, classifier_copy=True, copy_lambda=COPY_LAMBDA
        )
        self.input_dropout = nn.Dropout(c.dropout)
        # Rebuilt from labels.json with the model, so not part of the saved state.
        self.register_buffer("label_word_ids", label_word_ids.long(), persistent=False)
        # One word table for the text, the attribute words and the decoder.
        init_word_embeddings(
            self.text_encoder.embedding, embeddings, others=(self.text_encoder.type_embedding,)
        )

    @property
    def inputs(self) -> frozenset[str]:
        return frozenset({INPUT_TEXT, INPUT_GRID} if self.config.use_image else {INPUT_TEXT})

    def encode(self, batch: Batch) -> Encoded:
        """H_T and M_T of the text, the image query, H_f and the label logits."""
        parts = split_source(batch)
        text = self.text_encoder(batch.src_ids, batch.src_types, parts.text_mask)
        image = None
        if self.image_encoder is not None and batch.grid is not None:
            image = self.image_encoder(batch.grid, batch.has_image)
        words = self.text_encoder.embedding(batch.src_ids)  # (B, L, e), X_A's among them
        query = self.fusion.query(text.pooled, image, words, parts.attribute_mask)
        fused, logits = self.fusion(query, text.memory, parts.text_mask)
        return Encoded.of_text(text, parts.text_mask, fused=fused, label_logits=logits)

    def forward(self, batch: Batch, terms: Collection[str]) -> Losses:
        """The requested loss terms: "cla" (cross-entropy of the label logits) and "gen"."""
        unknown = set(terms) - set(self.config.loss_terms)
        if unknown:
            raise ValueError(
                f"unknown loss terms {sorted(unknown)}; known: {self.config.loss_terms}"
            )
        encoded, losses = self.encode(batch), Losses()
        if "cla" in terms:
            assert encoded.label_logits is not None
            losses["cla"] = classification_loss(encoded.label_logits, batch.label)
        if "gen" in terms:
            log_probs = self.teacher_forced(batch, encoded)  # (B, T, V_ext)
            losses["gen"] = generation_loss(log_probs, batch.trg_out, batch.trg_mask)
        return losses

    def init_decoder_state(self, batch: Batch, encoded: Encoded) -> DecoderState:
        """The decoder's start, copying from the text of X_T (not X_A) and the top-k labels."""
        assert encoded.label_logits is not None and encoded.src_mask is not None
        labels = label_copy(
            encoded.label_logits,
            self.label_word_ids,
            self.config.classifier_top_k,
            LABEL_COPY_FORM,
        )
        return self.source_state(replace(batch, src_mask=encoded.src_mask), encoded, labels)


def build_m3h_att(
    config: ModelConfig,
    vocab: Vocab,
    labels: LabelSet,
    embeddings: PretrainedEmbeddings | None = None,
) -> M3HAtt:
    """A freshly initialised M3H-ATT (or M3H-ATT(TF)) for the vocabulary and label set."""
    assert isinstance(config, M3HAttConfig)
    return M3HAtt(
        config,
        vocab_size=len(vocab),
        label_word_ids=label_word_ids(vocab, labels),
        embeddings=embeddings,
    )

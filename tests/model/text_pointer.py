"""A second, small member of the model family, registered by the tests: a text-only
pointer-generator (no image, no classifier, no H_f), or with `head: classifier` a max-pooled
Bi-GRU classifier over the training keyphrases (no generator). Built from the package's
components only, to show a new system is a config + a thin module."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import ClassVar, Literal

from torch import nn

from mmkp.data.batch import Batch
from mmkp.data.vocab import LabelSet, Vocab
from mmkp.model.config import ModelConfig
from mmkp.model.modules.classifier import classification_loss
from mmkp.model.modules.copy_generator import CopyGenerator, generation_loss
from mmkp.model.modules.decoder import Decoder, DecoderState
from mmkp.model.modules.embeddings import PretrainedEmbeddings, init_word_embeddings
from mmkp.model.modules.pointer_decoding import PointerDecoding
from mmkp.model.modules.text_encoder import TextEncoder
from mmkp.model.outputs import Encoded, Losses
from mmkp.model.protocol import INPUT_TEXT
from mmkp.model.registry import register_model

NAME = "text-pointer"


@dataclass(frozen=True)
class TextPointerConfig(ModelConfig):
    name: str = NAME
    embeddings: Literal["random", "glove-6b-50d", "file"] = "random"
    emb_size: int = 16
    hidden_size: int = 8
    dropout: float = 0.0
    head: Literal["generator", "classifier"] = "generator"

    loss_terms: ClassVar[tuple[str, ...]] = ("gen", "cla")


class TextPointer(PointerDecoding, nn.Module):
    def __init__(
        self, config: TextPointerConfig, vocab: Vocab, labels: LabelSet, embeddings=None
    ) -> None:
        super().__init__()
        self.config, self.vocab_size = config, len(vocab)
        d = 2 * config.hidden_size
        self.text_encoder = TextEncoder(len(vocab), config.emb_size, config.hidden_size, 0.0)
        self.input_dropout = nn.Dropout(config.dropout)
        if config.head == "generator":
            self.decoder = Decoder(config.emb_size, d)
            self.generator = CopyGenerator(
                config.emb_size + 2 * d, d, len(vocab), 0.0, classifier_copy=False
            )
        else:
            self.classifier = nn.Linear(d, len(labels))
        init_word_embeddings(self.text_encoder.embedding, embeddings)

    inputs: ClassVar[frozenset[str]] = frozenset({INPUT_TEXT})

    @property
    def has_generator(self) -> bool:
        return self.config.head == "generator"

    @property
    def has_classifier(self) -> bool:
        return self.config.head == "classifier"

    def encode(self, batch: Batch) -> Encoded:
        text = self.text_encoder(batch.src_ids, batch.src_types, batch.src_mask)
        logits = self.classifier(text.pooled) if self.has_classifier else None
        return Encoded.of_text(text, batch.src_mask, label_logits=logits)

    def forward(self, batch: Batch, terms: Collection[str]) -> Losses:
        encoded, losses = self.encode(batch), Losses()
        if "gen" in terms and self.has_generator:
            log_probs = self.teacher_forced(batch, encoded)
            losses["gen"] = generation_loss(log_probs, batch.trg_out, batch.trg_mask)
        if "cla" in terms and encoded.label_logits is not None:
            losses["cla"] = classification_loss(encoded.label_logits, batch.label)
        return losses

    def init_decoder_state(self, batch: Batch, encoded: Encoded) -> DecoderState:
        return self.source_state(batch, encoded)  # no H_f, no label copy


def build(
    config: ModelConfig, vocab: Vocab, labels: LabelSet, embeddings: PretrainedEmbeddings | None
) -> TextPointer:
    assert isinstance(config, TextPointerConfig)
    return TextPointer(config, vocab, labels, embeddings)


register_model(NAME, TextPointerConfig, build)

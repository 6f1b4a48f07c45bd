"""What every classification baseline shares: the label head, L_cla, the text encoder's
construction, the text, image and text-image bases and the builder the registry calls.

    features (B, d) --Dropout--Linear--> label logits (B, num_labels)
    L_cla = cross-entropy of the logits against the row's keyphrase label (eq. 18's loss)

A member subclasses `LabelClassifier` (or `TextClassifier` or `ImageClassifier`, which read
the text or the image grid alone, or `TextImageClassifier`, which reads both) and defines
`inputs` and `encode` (returning `Encoded` with `label_logits` from `self.classify`). The
predictor ranks the labels by their logits (`mmkp.decoding.labels`); there is no generator to
decode with.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any, ClassVar

import torch
from torch import nn

from mmkp.data.batch import Batch
from mmkp.data.vocab import LabelSet, Vocab
from mmkp.model.classifiers.config import ClassifierConfig, ImageClassifierConfig
from mmkp.model.config import ModelConfig
from mmkp.model.modules.classifier import classification_loss
from mmkp.model.modules.embeddings import PretrainedEmbeddings, init_word_embeddings
from mmkp.model.modules.image_encoder import ImageEncoder, ImageEncoding
from mmkp.model.modules.text_encoder import TextEncoder, TextEncoding
from mmkp.model.outputs import Encoded, Losses
from mmkp.model.protocol import INPUT_GRID, INPUT_TEXT


class LabelClassifier(nn.Module):
    has_generator: ClassVar[bool] = False
    has_classifier: ClassVar[bool] = True

    def __init__(self, config: ClassifierConfig, *, num_labels: int) -> None:
        super().__init__()
        if num_labels < 1:
            raise ValueError(
                f"model {config.name!r} classifies over the training keyphrases, but the label "
                "set is empty: the training posts need keyphrases (data.label_min_count)"
            )
        self.config = config
        self.classifier = nn.Sequential(
            nn.Dropout(config.dropout), nn.Linear(config.size, num_labels)
        )

    @property
    def inputs(self) -> frozenset[str]:
        raise NotImplementedError

    def encode(self, batch: Batch) -> Encoded:
        raise NotImplementedError

    def classify(self, features: torch.Tensor) -> torch.Tensor:
        """features (B, d) -> label logits (B, num_labels)."""
        return self.classifier(features)

    def forward(self, batch: Batch, terms: Collection[str]) -> Losses:
        """L_cla when requested; rows whose keyphrase is not a label do not count."""
        unknown = set(terms) - set(self.config.loss_terms)
        if unknown:
            raise ValueError(
                f"unknown loss terms {sorted(unknown)}; known: {self.config.loss_terms}"
            )
        losses = Losses()
        if "cla" in terms:
            logits = self.encode(batch).label_logits
            assert logits is not None
            losses["cla"] = classification_loss(logits, batch.label)
        return losses

    def init_decoder_state(self, batch: Batch, encoded: Encoded) -> Any:
        raise TypeError(f"model {self.config.name!r} is a classifier: it has no generator")

    def step(self, tokens: torch.Tensor, state: Any) -> tuple[torch.Tensor, torch.Tensor, Any]:
        raise TypeError(f"model {self.config.name!r} is a classifier: it has no generator")


def text_encoder(
    config: ClassifierConfig, vocab_size: int, embeddings: PretrainedEmbeddings | None
) -> TextEncoder:
    """The package's Bi-GRU over X_T (eq. 1), its word table seeded with `embeddings`."""
    encoder = TextEncoder(vocab_size, config.emb_size, config.hidden_size, config.dropout)
    init_word_embeddings(encoder.embedding, embeddings, others=(encoder.type_embedding,))
    return encoder


def encode_image(encoder: ImageEncoder, batch: Batch) -> ImageEncoding:
    """H_I (eq. 2) of the batch's grids; a batch without grids (a text-only post at
    prediction time) is one image-less region per row, so every image pool is zero."""
    if batch.grid is None:
        device = batch.src_ids.device
        regions = torch.zeros(batch.size, 1, encoder.project.out_features, device=device)
        mask = torch.zeros(batch.size, 1, dtype=torch.bool, device=device)
        return ImageEncoding(regions=regions, mask=mask)
    return encoder(batch.grid, batch.has_image)


class ImageClassifier(LabelClassifier):
    """A classifier of the image alone: the region projection H_I (eq. 2), of width d."""

    def __init__(
        self,
        config: ImageClassifierConfig,
        *,
        vocab_size: int,
        num_labels: int,
        embeddings: PretrainedEmbeddings | None = None,
    ) -> None:
        super().__init__(config, num_labels=num_labels)
        self.image_encoder = ImageEncoder(config.image_dim, config.size, config.dropout)

    @property
    def inputs(self) -> frozenset[str]:
        return frozenset({INPUT_GRID})


class TextClassifier(LabelClassifier):
    """A classifier that reads the text: the Bi-GRU over X_T (eq. 1), of width d."""

    def __init__(
        self,
        config: ClassifierConfig,
        *,
        vocab_size: int,
        num_labels: int,
        embeddings: PretrainedEmbeddings | None = None,
    ) -> None:
        super().__init__(config, num_labels=num_labels)
        self.text_encoder = text_encoder(config, vocab_size, embeddings)

    @property
    def inputs(self) -> frozenset[str]:
        return frozenset({INPUT_TEXT})

    def encode_text(self, batch: Batch) -> TextEncoding:
        return self.text_encoder(batch.src_ids, batch.src_types, batch.src_mask)


class TextImageClassifier(TextClassifier):
    """A classifier that fuses the text with the image: the Bi-GRU over X_T (eq. 1) and the
    region projection H_I (eq. 2), both of width d."""

    def __init__(
        self,
        config: ImageClassifierConfig,
        *,
        vocab_size: int,
        num_labels: int,
        embeddings: PretrainedEmbeddings | None = None,
    ) -> None:
        super().__init__(
            config, vocab_size=vocab_size, num_labels=num_labels, embeddings=embeddings
        )
        self.image_encoder = ImageEncoder(config.image_dim, config.size, config.dropout)

    @property
    def inputs(self) -> frozenset[str]:
        return frozenset({INPUT_TEXT, INPUT_GRID})

    def encode_inputs(self, batch: Batch) -> tuple[TextEncoding, ImageEncoding]:
        return self.encode_text(batch), encode_image(self.image_encoder, batch)

    def classify_fused(
        self, batch: Batch, text: TextEncoding, image: ImageEncoding, fused: torch.Tensor
    ) -> Encoded:
        """The label logits of the fused features (B, d), with H_T and H_I beside them."""
        return Encoded.of_text(
            text,
            batch.src_mask,
            label_logits=self.classify(fused),
            regions=image.regions,
            region_mask=image.mask,
        )


Member = Callable[..., LabelClassifier]


def builder(
    model_class: Member,
) -> Callable[[ModelConfig, Vocab, LabelSet, PretrainedEmbeddings | None], LabelClassifier]:
    """The registry's `build(config, vocab, labels, embeddings)` for `model_class`, whose
    constructor takes (config, *, vocab_size, num_labels, embeddings)."""

    def build(
        config: ModelConfig,
        vocab: Vocab,
        labels: LabelSet,
        embeddings: PretrainedEmbeddings | None = None,
    ) -> LabelClassifier:
        assert isinstance(config, ClassifierConfig)
        return model_class(
            config, vocab_size=len(vocab), num_labels=len(labels), embeddings=embeddings
        )

    return build

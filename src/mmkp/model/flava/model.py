"""FLAVA (Singh et al., CVPR 2022, "FLAVA: A Foundational Language And Vision Alignment
Model") fine-tuned with a classification head over the training keyphrases:

    X_T words --FLAVA tokenizer, text encoder, text_to_mm--> T (B, L, h)
    grid (B, R, C) --Linear--> G (B, R, h)          (stands in for FLAVA's ViT patches)
    [CLS_M; G; T] --FLAVA multimodal encoder--> pooled CLS_M (B, h)
    pooled --Linear, GELU--> (B, d) --Dropout, Linear--> label logits

The batch carries the package's grid features, not pixels, so FLAVA's image encoder is not
used: the grid cells enter the multimodal encoder through a new projection (docs/baselines.md,
"FLAVA"). X_T is re-tokenised with FLAVA's word pieces (the `<seg>` between post, OCR and
entities becomes [SEP]). Regions of image-less posts and zero padding rows are masked.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from mmkp.data.batch import Batch
from mmkp.data.layout import SEG
from mmkp.data.vocab import LabelSet, Vocab
from mmkp.model.classifiers.base import LabelClassifier
from mmkp.model.config import ModelConfig
from mmkp.model.flava.config import FlavaClassifierConfig
from mmkp.model.flava.loading import load_flava
from mmkp.model.modules.embeddings import PretrainedEmbeddings
from mmkp.model.modules.regions import region_mask
from mmkp.model.outputs import Encoded
from mmkp.model.protocol import INPUT_GRID, INPUT_TEXT

Tokenizer = Callable[..., dict[str, torch.Tensor]]


def source_texts(batch: Batch, vocab: Vocab, sep: str) -> list[str]:
    """Each row's X_T as words again (out-of-vocabulary words from `oov_words`), `<seg>` as
    `sep`: the text FLAVA's tokenizer splits into its own word pieces."""
    texts = []
    for ids, mask, oov in zip(
        batch.src_ext_ids.tolist(), batch.src_mask.tolist(), batch.oov_words, strict=True
    ):
        words = vocab.decode([i for i, real in zip(ids, mask, strict=True) if real], oov)
        texts.append(" ".join(sep if word == SEG else word for word in words))
    return texts


class FlavaClassifier(LabelClassifier):
    def __init__(self, config: FlavaClassifierConfig, *, vocab: Vocab, num_labels: int) -> None:
        super().__init__(config, num_labels=num_labels)
        assert config.flava_path is not None  # the config refuses a missing path
        flava, self.tokenizer = load_flava(config.flava_path)
        self.vocab = vocab
        width = flava.config.multimodal_config.hidden_size  # h
        self.text_model = flava.text_model
        self.text_model.pooler = None  # FLAVA's multimodal path reads the token states only
        self.text_to_mm = flava.text_to_mm_projection
        self.multimodal = flava.multimodal_model
        self.image_to_mm = nn.Linear(config.image_dim, width)
        self.head = nn.Sequential(nn.Linear(width, config.size), nn.GELU())

    @property
    def inputs(self) -> frozenset[str]:
        return frozenset({INPUT_TEXT, INPUT_GRID})

    def encode(self, batch: Batch) -> Encoded:
        tokens = self._tokenize(batch)
        text = self.text_model(**tokens).last_hidden_state  # (B, L, h_text)
        states, masks = [self.text_to_mm(text)], [tokens["attention_mask"].bool()]
        if batch.grid is not None:
            states.insert(0, self.image_to_mm(batch.grid.float()))  # (B, R, h)
            masks.insert(0, region_mask(batch.grid, batch.has_image))  # (B, R)
        if self.multimodal.use_cls_token:  # it prepends CLS_M itself; the mask must cover it
            masks.insert(0, masks[0].new_ones(batch.size, 1))
        out = self.multimodal(torch.cat(states, dim=1), attention_mask=torch.cat(masks, dim=1))
        return Encoded(label_logits=self.classify(self.head(out.pooler_output)))

    def _tokenize(self, batch: Batch) -> dict[str, torch.Tensor]:
        texts = source_texts(batch, self.vocab, self.tokenizer.sep_token)
        tokens = self.tokenizer(
            texts,
            padding=True,
            truncation=True,
            max_length=self.config.max_text_len,
            return_tensors="pt",
        )
        return {key: value.to(batch.src_ids.device) for key, value in tokens.items()}


def build(
    config: ModelConfig,
    vocab: Vocab,
    labels: LabelSet,
    embeddings: PretrainedEmbeddings | None = None,
) -> FlavaClassifier:
    """FLAVA's pretrained text and multimodal encoders from `config.flava_path` (a loaded
    checkpoint then overwrites them with its fine-tuned weights), a fresh head."""
    assert isinstance(config, FlavaClassifierConfig)
    return FlavaClassifier(config, vocab=vocab, num_labels=len(labels))

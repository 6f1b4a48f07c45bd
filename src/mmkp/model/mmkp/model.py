"""MM-MKP (paper section 3), readable top to bottom.

    encode:   X_T --TextEncoder--> H_T, M_T                                   (eq. 1)
              grid --ImageEncoder--> H_I                                      (eq. 2)
              M_T, H_I --ImageTextMatcher--> s_c                              (eq. 3)
              M_T, H_I, s_c --RegionFilter--> A, H_I' = sigmoid(A) (.) H_I    (eq. 4-5)
              M_T, H_I' --KeyphraseClassifier--> H_f, label logits            (eq. 6-8)
              (option sentence_features, beyond the paper: H_f += W_s MiniLM(post) before
              the label logits and the decoder)
              (option image_text_gate, beyond the paper: s_c --SegmentGate--> g on the OCR
              and entity tokens; H_T' = g (.) H_T, M_T' = max-pool H_T' for the classifier,
              log g added to the decoder's attention scores)
    decode:   y_{j-1}, s_{j-1}, H_T --Decoder--> s_j, alpha_j, c_j            (eq. 9)
              [e(y_{j-1}); s_j; c_j + H_f] --CopyGenerator--> P(y_j)          (eq. 10-14)
    losses:   stage 1: L_itm + L_irtm + L_cla (eq. 15-18); stage 2: L_gen (eq. 19)

Ablation switches live in MMKPConfig; modules a configuration does not use are not built
(without L_cla and without the classifier copy there is no classifier, hence no H_f).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from typing import ClassVar

import torch
from torch import nn

from mmkp.data.batch import Batch
from mmkp.data.layout import TYPE_POST
from mmkp.data.vocab import PAD_ID, LabelSet, Vocab
from mmkp.model.config import ModelConfig
from mmkp.model.mmkp.config import MMKPConfig
from mmkp.model.modules.classifier import KeyphraseClassifier, classification_loss
from mmkp.model.modules.copy_generator import (
    CopyGenerator,
    LabelCopy,
    combine,
    label_copy,
    target_loss,
    voted_copy,
)
from mmkp.model.modules.decoder import Decoder, DecoderState
from mmkp.model.modules.embeddings import PretrainedEmbeddings, init_word_embeddings
from mmkp.model.modules.image_encoder import ImageEncoder, ImageEncoding
from mmkp.model.modules.image_text_matcher import ImageTextMatcher, matching_loss
from mmkp.model.modules.pointer_decoding import PointerDecoding
from mmkp.model.modules.region_filter import RegionFilter, region_contrast_loss, region_loss
from mmkp.model.modules.segment_gate import GatedText, SegmentGate
from mmkp.model.modules.sentence_projection import SentenceProjection
from mmkp.model.modules.text_encoder import TextEncoder, TextEncoding
from mmkp.model.outputs import Encoded, Losses
from mmkp.model.protocol import INPUT_GRID, INPUT_SENTENCE, INPUT_TEXT


@dataclass
class FilteredImage:
    """The image branch after the noise filter (all None without an image grid)."""

    regions: torch.Tensor | None = None  # (B, R, d) H_I (eq. 2)
    region_mask: torch.Tensor | None = None  # (B, R) bool, False on rows without an image
    filtered: torch.Tensor | None = None  # (B, R, d) H_I' (eq. 5)
    match_logit: torch.Tensor | None = None  # (B,) the matcher's logit (eq. 3)
    match_score: torch.Tensor | None = None  # (B,) s_c; 0 on rows without an image
    region_scores: torch.Tensor | None = None  # (B, R) A (eq. 4); 0 on rows without an image


class MMKP(PointerDecoding, nn.Module):
    has_generator: ClassVar[bool] = True

    def __init__(
        self,
        config: MMKPConfig,
        *,
        vocab_size: int,
        label_word_ids: torch.Tensor,
        embeddings: PretrainedEmbeddings | None = None,
    ):
        super().__init__()
        if (config.uses_classifier or config.neighbour_copy) and (
            label_word_ids.dim() != 2 or label_word_ids.size(0) == 0
        ):
            raise ValueError(
                "label_word_ids must be (num_labels >= 1, max_kp_len), got shape "
                f"{tuple(label_word_ids.shape)}: the classifier needs training keyphrases"
            )
        self.config = config
        self.vocab_size = vocab_size
        d, e, c = config.size, config.emb_size, config
        self.text_encoder = TextEncoder(
            vocab_size, e, c.hidden_size, c.dropout, layers=c.encoder_layers
        )
        self.image_encoder = ImageEncoder(c.image_dim, d, c.dropout) if c.use_image else None
        self.matcher = None
        if c.uses_matching:
            self.matcher = ImageTextMatcher(
                d,
                c.num_heads,
                c.dropout,
                residual=c.matcher_residual,
                interaction=c.matcher_interaction,
            )
        self.region_filter = RegionFilter(d) if c.uses_regions else None
        self.segment_gate = SegmentGate(d, c.image_text_gate) if c.gates_image_text else None
        self.classifier = None
        if c.uses_classifier:
            self.classifier = KeyphraseClassifier(
                d, label_word_ids.size(0), c.num_heads, c.dropout, use_image=c.use_image
            )
        self.decoder = Decoder(e, d)
        self.generator = CopyGenerator(
            e + 2 * d,
            d,
            vocab_size,
            c.dropout,
            classifier_copy=c.classifier_copy or c.neighbour_copy,
            hidden=c.generator_hidden,
            copy_lambda=c.copy_lambda,
            output_ids=None
            if c.output_vocab is None
            else output_ids(label_word_ids, min(c.output_vocab, vocab_size)),
            label_smoothing=c.label_smoothing,
        )
        self.input_dropout = nn.Dropout(c.dropout)
        # Rebuilt from labels.json with the model, so not part of the saved state.
        self.register_buffer("label_word_ids", label_word_ids.long(), persistent=False)
        # The word table is shared by the decoder.
        init_word_embeddings(
            self.text_encoder.embedding, embeddings, others=(self.text_encoder.type_embedding,)
        )
        # Built last (zero-initialised, but nn.Linear draws its init first), so that one seed
        # gives every other weight the value it has without the option.
        self.sentence_projection = None
        if c.sentence_input is not None:  # H_f exists: the config refuses it otherwise
            self.sentence_projection = SentenceProjection(d)

    @property
    def inputs(self) -> frozenset[str]:
        grid = {INPUT_GRID} if self.config.use_image else set()
        sentence = {INPUT_SENTENCE} if self.sentence_projection is not None else set()
        return frozenset({INPUT_TEXT, *grid, *sentence})

    @property
    def has_classifier(self) -> bool:
        return self.classifier is not None

    # ----------------------------------------------------------------------------- encoding
    def encode(self, batch: Batch) -> Encoded:
        """Encoders, noise filter and classifier for a batch (eq. 1-7)."""
        text = self.text_encoder(batch.src_ids, batch.src_types, batch.src_mask)
        image = self._encode_image(batch)
        noise = FilteredImage() if image is None else self._filter_noise(batch, text, image)
        gated = self._gate_image_text(batch, text, noise)
        memory, pooled = (
            (text.memory, text.pooled) if gated is None else (gated.memory, gated.pooled)
        )
        fused = logits = None
        if self.classifier is not None:
            fused = self.classifier.fuse(pooled, noise.filtered, noise.region_mask)  # H_f
            if self.sentence_projection is not None:
                fused = self.sentence_projection(fused, batch.sentence)  # (B, d)
            logits = self.classifier(fused)
        return Encoded.of_text(
            replace(text, memory=memory),
            batch.src_mask,
            source_bias=None if gated is None else gated.log_gate,
            fused=fused,
            label_logits=logits,
            regions=noise.regions,
            region_mask=noise.region_mask,
            filtered=noise.filtered,
            match_logit=noise.match_logit,
            match_score=noise.match_score,
            region_scores=noise.region_scores,
        )

    def _encode_image(self, batch: Batch) -> ImageEncoding | None:
        if self.image_encoder is None or batch.grid is None:
            return None
        return self.image_encoder(batch.grid, batch.has_image)

    def _filter_noise(
        self, batch: Batch, text: TextEncoding, image: ImageEncoding
    ) -> FilteredImage:
        """s_c (eq. 3), A and H_I' (eq. 4-5), per the ablation switches."""
        has_image = batch.has_image.to(image.regions.dtype)  # (B,)
        out = FilteredImage(regions=image.regions, region_mask=image.mask, filtered=image.regions)
        if self.matcher is not None:
            out.match_logit = self.matcher(text.pooled, image.regions, image.mask)  # (B,)
            match = torch.sigmoid(out.match_logit)
            if self.config.match_source == "precomputed":
                known = ~torch.isnan(batch.match_prob)
                match = torch.where(known, batch.match_prob.to(match.dtype), match)
            out.match_score = match * has_image  # (B,)
        if self.region_filter is not None:
            scores = self.region_filter.scores(text.pooled, image.regions, out.match_score)
            out.region_scores = scores * has_image[:, None]  # (B, R)
            out.filtered = RegionFilter.gate(scores, image.regions)
        elif out.match_score is not None:  # coarse-grained filter only: s_c scales the image
            out.filtered = out.match_score[:, None, None] * image.regions
        return out

    def _gate_image_text(
        self, batch: Batch, text: TextEncoding, noise: FilteredImage
    ) -> GatedText | None:
        """The image-text gate on X_T's OCR and entity tokens (option, beyond the paper)."""
        if self.segment_gate is None or noise.match_score is None:
            return None
        return self.segment_gate(
            text.memory, batch.src_types, batch.src_mask, noise.match_score, batch.has_image
        )

    # ------------------------------------------------------------------------------- losses
    def forward(self, batch: Batch, terms: Collection[str]) -> Losses:
        """The requested loss terms. A term is absent when not requested, switched off by the
        config, or (itm, irtm) when the batch carries no image grid; a term whose rows all
        lack a label is 0 (still attached to the graph)."""
        known = self.config.loss_terms
        unknown = set(terms) - set(known)
        if unknown:
            raise ValueError(f"unknown loss terms {sorted(unknown)}; known: {known}")
        config, encoded, losses = self.config, self.encode(batch), Losses()
        if "itm" in terms and config.use_itm_loss and encoded.match_logit is not None:
            losses["itm"] = matching_loss(encoded.match_logit, batch.match_label, batch.has_image)
        if "irtm" in terms and config.use_irtm_loss and encoded.region_scores is not None:
            losses["irtm"] = self._region_loss(batch, encoded)
        if "cla" in terms and config.use_cla_loss and encoded.label_logits is not None:
            losses["cla"] = classification_loss(encoded.label_logits, batch.label)
        if "gen" in terms:
            at_targets = self.teacher_forced(batch, encoded, at_targets=True)  # (B, T, 1)
            losses["gen"] = target_loss(at_targets, batch.trg_mask)
        return losses

    def _region_loss(self, batch: Batch, encoded: Encoded) -> torch.Tensor:
        """L_irtm (eq. 17): A against A_gt, A recomputed with the gold keyphrase M_Y."""
        assert self.region_filter is not None and encoded.regions is not None
        assert encoded.region_scores is not None
        gold_ids, gold_mask = batch.trg_in[:, 1:], batch.trg_mask[:, 1:]  # words, no <bos>
        rows = batch.has_image & gold_mask.any(dim=1)  # (B,) rows with an image and a target
        if not rows.any():
            return region_loss(encoded.region_scores, encoded.region_scores, rows)
        with torch.no_grad():  # A_gt is a fixed target
            gold = self.text_encoder(gold_ids, torch.full_like(gold_ids, TYPE_POST), gold_mask)
            target = self.region_filter.scores(gold.pooled, encoded.regions, encoded.match_score)
        loss = region_loss(encoded.region_scores, target, rows)
        if self.config.region_contrast:
            loss = loss + self._region_contrast(batch, encoded)
        return loss

    def _region_contrast(self, batch: Batch, encoded: Encoded) -> torch.Tensor:
        """The `region_contrast` term: each image against the next row's text (another post;
        rows of the same post, or with an image known to be unrelated, are left out)."""
        assert self.region_filter is not None and encoded.regions is not None
        assert encoded.region_scores is not None and encoded.text is not None
        other_text = encoded.text.roll(1, dims=0)  # (B, d) M_T of the previous row
        other = self.region_filter.scores(other_text, encoded.regions, encoded.match_score)
        rows = batch.has_image & (batch.post_index != batch.post_index.roll(1, dims=0))
        rows = rows & (batch.match_label != 0)  # nan (unknown) or 1 (relevant)
        return region_contrast_loss(encoded.region_scores, other, rows)

    # ----------------------------------------------------------------------------- decoding
    def init_decoder_state(self, batch: Batch, encoded: Encoded) -> DecoderState:
        """s_0, the source memory and the copy sources per row: X_T, the classifier's top-k
        labels and the neighbours' keyphrases, as configured."""
        sources: list[LabelCopy] = []
        if self.config.classifier_copy and encoded.label_logits is not None:
            sources.append(
                label_copy(
                    encoded.label_logits,
                    self.label_word_ids,
                    self.config.classifier_top_k,
                    self.config.label_copy,
                )
            )
        if self.config.neighbour_copy:
            if batch.neighbour_labels is None or batch.neighbour_weights is None:
                raise ValueError(
                    "the model copies from the neighbours' keyphrases, but the batch has no "
                    "neighbours: build it with the model's retrieval index (collate neighbours=)"
                )
            sources.append(
                voted_copy(batch.neighbour_labels, batch.neighbour_weights, self.label_word_ids)
            )
        state = self.source_state(batch, encoded, combine(sources) if sources else None)
        return replace(state, src_bias=encoded.source_bias)


def output_ids(label_word_ids: torch.Tensor, frequent: int) -> torch.Tensor:
    """The target vocabulary: ids below `frequent` (the specials and the most frequent
    words: the vocabulary is ordered by count) and every label word, ascending."""
    words = label_word_ids.flatten()
    return torch.unique(torch.cat([torch.arange(frequent), words[words != PAD_ID]]))


def label_word_ids(vocab: Vocab, labels: LabelSet) -> torch.Tensor:
    """(num_labels, max_kp_len) vocab ids of each label's words, padded with <pad>."""
    rows = [vocab.encode(labels.words(i)) for i in range(len(labels))]
    table = torch.full((len(rows), max((len(r) for r in rows), default=1)), PAD_ID)
    for i, row in enumerate(rows):
        table[i, : len(row)] = torch.tensor(row)
    return table


def build_mmkp(
    config: ModelConfig,
    vocab: Vocab,
    labels: LabelSet,
    embeddings: PretrainedEmbeddings | None = None,
) -> MMKP:
    """A freshly initialised MMKP for the vocabulary and label set."""
    assert isinstance(config, MMKPConfig)
    return MMKP(
        config,
        vocab_size=len(vocab),
        label_word_ids=label_word_ids(vocab, labels),
        embeddings=embeddings,
    )

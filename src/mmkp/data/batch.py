"""The tensor batch the model consumes (one2one: one row per post-keyphrase pair).

This is the contract between data (`mmkp.data.batching` builds it) and the model
(`mmkp.model` reads it). Token ids index the vocabulary; "extended" ids additionally
number each example's out-of-vocabulary source words from `vocab_size` upward so the
copy mechanism can produce them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields, replace

import numpy as np
import torch

IGNORE_LABEL = -100  # torch's cross-entropy ignore_index: the row has no classifier label
# The models read an image as a 7 x 7 grid of regions (eq. 2); the featurizer refuses a
# backbone whose grid side differs (mmkp.features.featurizer.FeaturizerConfig.grid_side).
GRID_SIDE = 7
NUM_REGIONS = GRID_SIDE * GRID_SIDE  # R = 49
GridLookup = Callable[[str], np.ndarray | None]  # post id -> (R, C) grid features, or None


@dataclass
class Batch:
    src_ids: torch.Tensor  # (B, L) long, vocab ids, OOV -> <unk>, padded with <pad>
    src_ext_ids: torch.Tensor  # (B, L) long, extended ids (OOV -> vocab_size + k)
    src_types: torch.Tensor  # (B, L) long segment types (mmkp.data.layout)
    src_mask: torch.Tensor  # (B, L) bool, True on real tokens
    oov_words: list[list[str]]  # per example, the words behind extended ids vocab_size + k
    grid: torch.Tensor | None  # (B, R, C) float region features (R = NUM_REGIONS); None: text-only
    has_image: torch.Tensor  # (B,) bool, False where the post has no (readable) image
    trg_in: torch.Tensor  # (B, T) long decoder inputs: <bos> w1 .. wn, OOV -> <unk>, padded
    trg_out: torch.Tensor  # (B, T) long targets in extended ids: w1 .. wn <eos>, padded
    trg_mask: torch.Tensor  # (B, T) bool, True on real target positions
    label: torch.Tensor  # (B,) long label index for L_cla; IGNORE_LABEL: not a label
    match_label: torch.Tensor  # (B,) float 1/0 image-text relevance for L_itm, nan if unknown
    match_prob: torch.Tensor  # (B,) float precomputed match probability, nan if unknown
    post_index: torch.Tensor  # (B,) long index of the source post (several rows per post)
    # The keyphrases of the post's nearest training posts (`mmkp.data.neighbours`), for models
    # with `retrieval`: (B, m) label indices, IGNORE_LABEL-padded, and their votes, each row
    # summing to 1 (0 where the post has no neighbour); None without retrieval.
    neighbour_labels: torch.Tensor | None = None
    neighbour_weights: torch.Tensor | None = None
    # The post's frozen MiniLM sentence embedding (`mmkp.features.sentence_encoder`), for
    # models that read one (MM-MKP's `sentence_features`): (B, D) float32, unit-length rows;
    # None when the model reads none.
    sentence: torch.Tensor | None = None

    @property
    def size(self) -> int:
        return self.src_ids.size(0)

    @property
    def max_oov(self) -> int:
        return max((len(words) for words in self.oov_words), default=0)

    def to(self, device: torch.device | str) -> Batch:
        moved = {
            f.name: getattr(self, f.name).to(device)
            for f in fields(self)
            if isinstance(getattr(self, f.name), torch.Tensor)
        }
        return replace(self, **moved)

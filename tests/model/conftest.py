"""Tiny model configs and hand-built batches for the model tests (vocab 50, d = 16)."""

from __future__ import annotations

import math

import pytest
import torch

from mmkp.data.batch import Batch
from mmkp.data.layout import TYPE_ENTITY, TYPE_OCR, TYPE_POST
from mmkp.data.vocab import BOS_ID, EOS_ID, PAD_ID, SEG_ID, UNK_ID
from mmkp.model.mmkp.config import MMKPConfig
from mmkp.model.mmkp.model import MMKP

VOCAB_SIZE = 50
IMAGE_DIM = 12
REGIONS = 49
# Six training keyphrases of 1-3 words (vocab ids, <pad>-padded).
LABEL_WORD_IDS = torch.tensor(
    [[10, 0, 0], [11, 12, 0], [13, 0, 0], [14, 15, 16], [17, 0, 0], [10, 18, 0]]
)
# Source rows: (post words, OCR words, entity words); -k marks the k-th OOV word of the row.
SOURCES = [
    ([20, 21, -1, 22], [23], [24, 25]),
    ([26, 27], [], [28]),
    ([29, -1, -2], [30, 31], []),
    ([32], [], []),
]
TARGETS = [[20, 21], [11, 12], [-2], []]  # the last row has an empty target (no label)
LABELS = [-100, 1, -100, -100]
HAS_IMAGE = [True, False, True, True]
MATCH_LABEL = [1.0, math.nan, 0.0, 1.0]
MATCH_PROB = [0.9, math.nan, 0.25, math.nan]


# The sizes of the tiny MM-MKP and M3H-ATT configs (tests/model/m3h_att/conftest.py).
TINY_SIZES: dict[str, object] = dict(
    emb_size=8, hidden_size=8, num_heads=2, image_dim=IMAGE_DIM, dropout=0.0, embeddings="random"
)


def tiny_config(**overrides: object) -> MMKPConfig:
    base = {**TINY_SIZES, "classifier_top_k": 3}
    return MMKPConfig(**{**base, **overrides})  # type: ignore[arg-type]


def tiny_model(seed: int = 0, **overrides: object) -> MMKP:
    torch.manual_seed(seed)
    return MMKP(tiny_config(**overrides), vocab_size=VOCAB_SIZE, label_word_ids=LABEL_WORD_IDS)


def make_batch(seed: int = 0, *, with_grid: bool = True) -> Batch:
    """Four rows: OOV words, all three segment types, one image-less row, one empty target."""
    src, ext, types, oov_words = [], [], [], []
    for post, ocr, entities in SOURCES:
        tokens = [*post, SEG_ID, *ocr, SEG_ID, *entities]
        kinds = [TYPE_POST] * (len(post) + 1) + [TYPE_OCR] * (len(ocr) + 1)
        kinds += [TYPE_ENTITY] * len(entities)
        src.append([UNK_ID if t < 0 else t for t in tokens])
        ext.append([VOCAB_SIZE - t - 1 if t < 0 else t for t in tokens])
        types.append(kinds)
        oov_words.append([f"oov{k}" for k in range(-min(min(tokens), 0))])
    width = max(map(len, src))
    trg_len = max(len(t) for t in TARGETS) + 1
    trg_in = [[BOS_ID] + [UNK_ID if t < 0 else t for t in trg] for trg in TARGETS]
    trg_out = [
        [VOCAB_SIZE - t - 1 if t < 0 else t for t in trg] + [EOS_ID] if trg else []
        for trg in TARGETS
    ]
    generator = torch.Generator().manual_seed(seed)
    has_image = torch.tensor(HAS_IMAGE)
    grid = torch.randn(len(SOURCES), REGIONS, IMAGE_DIM, generator=generator)
    return Batch(
        src_ids=_pad(src, width),
        src_ext_ids=_pad(ext, width),
        src_types=_pad(types, width),
        src_mask=_pad([[1] * len(r) for r in src], width).bool(),
        oov_words=oov_words,
        grid=grid * has_image[:, None, None] if with_grid else None,
        has_image=has_image if with_grid else torch.zeros(len(SOURCES), dtype=torch.bool),
        trg_in=_pad(trg_in, trg_len),
        trg_out=_pad(trg_out, trg_len),
        trg_mask=_pad([[1] * len(r) for r in trg_out], trg_len).bool(),
        label=torch.tensor(LABELS),
        match_label=torch.tensor(MATCH_LABEL),
        match_prob=torch.tensor(MATCH_PROB),
        post_index=torch.arange(len(SOURCES)),
    )


def _pad(rows: list[list[int]], width: int) -> torch.Tensor:
    return torch.tensor([row + [PAD_ID] * (width - len(row)) for row in rows])


@pytest.fixture
def batch() -> Batch:
    return make_batch()


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Every test here runs on one torch thread (see tests/conftest.py)."""

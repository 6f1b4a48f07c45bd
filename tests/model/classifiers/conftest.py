"""Tiny classification baselines (d = 8) on the hand-built batch of tests/model/conftest.py."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from mmkp.data.batch import Batch
from mmkp.model.classifiers import MEMBERS, LabelClassifier
from mmkp.model.registry import config_class

from ..conftest import IMAGE_DIM, LABEL_WORD_IDS, VOCAB_SIZE, make_batch

NAMES = sorted(MEMBERS)
NUM_LABELS = LABEL_WORD_IDS.size(0)
TINY = {"emb_size": 8, "hidden_size": 4, "dropout": 0.0, "embeddings": "random"}
IMAGE = {"image_dim": IMAGE_DIM}
EXTRA = {"vgg": IMAGE, "co-att": IMAGE, "ban": {**IMAGE, "glimpses": 2, "rank": 6}}


def tiny_classifier(name: str, seed: int = 0, **overrides: object) -> LabelClassifier:
    config = config_class(name)(**{**TINY, **EXTRA.get(name, {}), **overrides})
    _, model_class = MEMBERS[name]
    torch.manual_seed(seed)
    return model_class(config, vocab_size=VOCAB_SIZE, num_labels=NUM_LABELS)


def labelled_batch(*, with_grid: bool = True) -> Batch:
    """The four hand-built rows, each with a label (row 1 has no image)."""
    return replace(make_batch(with_grid=with_grid), label=torch.tensor([0, 1, 2, 5]))


@pytest.fixture
def labelled() -> Batch:
    return labelled_batch()

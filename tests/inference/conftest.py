"""A tiny random checkpoint directory for the prediction API and CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mmkp.data.processor import TextOptions
from mmkp.data.record import Entity, Post
from mmkp.data.vocab import LabelSet, Vocab
from mmkp.decoding.config import DecodeConfig
from mmkp.inference.checkpoint import InferenceConfig, save_checkpoint
from mmkp.model.mmkp.config import MMKPConfig
from mmkp.model.registry import build_model

IMAGE_DIM = 1280  # efficientnet-lite0's grid width, so real image features fit
TRAIN = [
    Post("1", "so excited for the kca awards tonight", ocr="kids choice",
         entities=[Entity("stage")], keyphrases=["kca", "kids choice awards"]),
    Post("2", "rain again in london today", entities=[Entity("umbrella")],
         keyphrases=["london weather"]),
    Post("3", "new phone who dis", ocr="", entities=[Entity("phone")], keyphrases=["phone"]),
]  # fmt: skip


def save_tiny_checkpoint(directory: Path, *, image_dim: int = IMAGE_DIM, seed: int = 0) -> Path:
    """A random tiny MMKP (with the image branch, initialised from `seed`) saved as a
    checkpoint directory."""
    vocab, labels = Vocab.build(TRAIN), LabelSet.build(TRAIN)
    model_config = MMKPConfig(
        emb_size=8, hidden_size=8, num_heads=2, image_dim=image_dim, dropout=0.0,
        embeddings="random",
    )  # fmt: skip
    config = InferenceConfig(
        model=model_config,
        text=TextOptions(),
        decode=DecodeConfig(beam_size=4, max_len=4, top_k=3),
        backbone=None,
    )
    torch.manual_seed(seed)
    model = build_model(model_config, vocab, labels)
    return save_checkpoint(directory, model=model, vocab=vocab, labels=labels, config=config)


@pytest.fixture(scope="session")
def checkpoint_dir(tmp_path_factory) -> Path:
    return save_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "model")

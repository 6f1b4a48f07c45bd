"""Checkpoints written before the model-family redesign (tests/fixtures/legacy, made by the
old code) load and predict exactly as they did then."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from safetensors.numpy import load_file

from golden import assert_golden
from mmkp.data.jsonl import read_posts
from mmkp.data.record import Entity, Post
from mmkp.inference.checkpoint import read_config
from mmkp.inference.predictor import Predictor
from mmkp.model.mmkp.config import MMKPConfig

LEGACY = Path(__file__).parents[1] / "fixtures" / "legacy"
GOLDEN = json.loads((LEGACY / "golden.json").read_text())
TINY_DEV = Path(__file__).parents[1] / "training" / "data" / "tiny_dev.jsonl"
IMAGE_POSTS = [
    Post("a", "so excited for the kca awards tonight", ocr="kids choice",
         entities=[Entity("stage")]),
    Post("b", "rain in london", entities=[Entity("umbrella")]),
    Post("c", "new phone"),
]  # fmt: skip


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Every test here runs on one torch thread (see tests/conftest.py)."""


def test_an_old_config_json_reads_as_an_mmkp_inference_config():
    config = read_config(LEGACY / "mmkp_image")
    assert isinstance(config.model, MMKPConfig) and config.model.name == "mmkp"
    assert config.model.image_dim == 16 and config.backbone is None
    assert (config.decode.beam_size, config.decode.top_k, config.text.max_src_len) == (4, 3, 128)
    # Settings added since are read as the architecture the checkpoint was built with, not as
    # today's defaults (which follow the paper's copy form).
    former = (config.model.generator_hidden, config.model.copy_lambda, config.model.label_copy)
    assert former == (True, None, "split")
    assert MMKPConfig().generator_hidden is False  # today's default differs


def test_the_trained_tiny_model_predicts_as_before():
    results = Predictor.load(LEGACY / "mmkp_tiny").predict_many(read_posts(TINY_DEV))
    assert_golden([result.to_dict() for result in results], GOLDEN["mmkp_tiny"])


def test_the_image_model_predicts_and_explains_as_before():
    grids = load_file(str(LEGACY / "grids.safetensors"))
    predictor = Predictor.load(LEGACY / "mmkp_image")
    results = predictor.predict_many(IMAGE_POSTS, grid_lookup=grids.get)
    assert_golden([result.to_dict() for result in results], GOLDEN["mmkp_image"])

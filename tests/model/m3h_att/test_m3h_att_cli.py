"""M3H-ATT through the normal CLI: the shipped configs load, a tiny run trains, its saved
model predicts as the model in memory did, and `mmkp predict` serves it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mmkp.cli.main import main
from mmkp.data.jsonl import read_posts
from mmkp.evaluation.prediction_files import read_predictions
from mmkp.inference.checkpoint import load_checkpoint
from mmkp.inference.predictor import Predictor
from mmkp.model.m3h_att import M3HAtt, M3HAttConfig
from mmkp.training.config import load_config

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT / "tests" / "training" / "data"
SHIPPED = {
    "m3h-att-real": ("gru", True, "given"),
    "m3h-att-tf-real": ("transformer", True, "given"),
    "m3h-att-generated": ("gru", False, "entities"),
    "m3h-att-tf-generated": ("transformer", False, "entities"),
    "m3h-att-po-generated": ("gru", True, "entities"),
}
CONFIG = f"""
data:
  train: {DATA / "tiny_train.jsonl"}
  dev: {DATA / "tiny_dev.jsonl"}
  use_entities: false
  attributes: entities
  max_src_len: 32
model: {{name: m3h-att, emb_size: 16, hidden_size: 8, num_heads: 2, embeddings: random,
         use_image: false, dropout: 0.0}}
train:
  seed: 3
  threads: 1
  eval_batch_size: 8
  stage1: {{epochs: 3, terms: [cla, gen], batch_size: 4, lr: 0.01, monitor: F1@1, patience: 3}}
  stage2: {{epochs: 1, terms: [gen], batch_size: 4, lr: 0.01, monitor: loss}}
decode: {{beam_size: 3, max_len: 4, top_k: 3}}
"""


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_the_shipped_configs_load(name):
    config = load_config(ROOT / "configs" / "baselines" / f"{name}.yaml")
    encoder, ocr, attributes = SHIPPED[name]
    assert isinstance(config.model, M3HAttConfig)
    assert (config.model.encoder, config.data.use_ocr, config.data.attributes) == (
        encoder,
        ocr,
        attributes,
    )
    assert not config.data.use_entities
    if name.endswith("-real"):
        assert config.data.train.attribute is not None
        assert config.data.train.attribute.endswith("shared/data/cmkp/valid_attribute.txt")


@pytest.mark.slow
@pytest.mark.parametrize("encoder", ["gru", "transformer"])
def test_m3h_att_trains_saves_loads_and_predicts_through_the_cli(encoder, tmp_path, one_thread):
    config_file = tmp_path / "m3h.yaml"
    config_file.write_text(CONFIG, encoding="utf-8")
    out = tmp_path / "run"
    args = ["train", "--config", str(config_file), "--out", str(out)]
    assert main([*args, "--set", f"model.encoder={encoder}"]) == 0

    saved = json.loads((out / "model" / "config.json").read_text())
    assert saved["model"]["name"] == "m3h-att" and saved["model"]["encoder"] == encoder
    assert saved["text"]["attributes"] == "entities"
    checkpoint = load_checkpoint(out / "model")
    assert isinstance(checkpoint.model, M3HAtt)

    preds = tmp_path / "preds.jsonl"
    dev = DATA / "tiny_dev.jsonl"
    predict = ["predict", "--model", str(out / "model"), "--input", str(dev), "--out", str(preds)]
    assert main(predict) == 0
    expected = list(Predictor.load(out / "model").predict_many(read_posts(dev)))
    assert [p.keyphrases for p in read_predictions(preds)] == [r.texts for r in expected]
    # The saved model predicts the dev posts as the trained model did in memory.
    in_memory = read_predictions(out / "dev_predictions.jsonl")
    assert [p.keyphrases for p in in_memory] == [r.texts for r in expected]
    assert all(1 <= len(r.keyphrases) <= 3 for r in expected)
    assert main(["predict", "--model", str(out / "model"), "--text", "a puppy at the beach"]) == 0

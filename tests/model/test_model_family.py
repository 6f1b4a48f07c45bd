"""The model family: `model.name` picks a registered member, and a member that is not
MM-MKP (tests/model/text_pointer.py: no image, no classifier or no generator) trains, saves,
loads and predicts through the normal CLI and predictor."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mmkp.cli.main import main
from mmkp.config_loader import ConfigError
from mmkp.data.jsonl import read_posts
from mmkp.evaluation.prediction_files import read_predictions
from mmkp.inference.checkpoint import load_checkpoint
from mmkp.inference.predictor import Predictor
from mmkp.model.mmkp.config import MMKPConfig
from mmkp.model.registry import model_names
from mmkp.training.config import load_config

from .text_pointer import TextPointer, TextPointerConfig

DATA = Path(__file__).resolve().parents[1] / "training" / "data"
CONFIG = f"""
data:
  train: {DATA / "tiny_train.jsonl"}
  dev: {DATA / "tiny_dev.jsonl"}
model: {{name: text-pointer}}
train:
  seed: 3
  threads: 1
  eval_batch_size: 8
  stage1: {{epochs: 4, terms: [gen], batch_size: 4, lr: 0.01, monitor: F1@1, patience: 4}}
  stage2: {{epochs: 1, terms: [gen], batch_size: 4, lr: 0.01, monitor: loss}}
decode: {{beam_size: 3, max_len: 4, top_k: 3}}
"""


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "text_pointer.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def test_the_name_picks_the_config_class(config_file):
    assert {"mmkp", "text-pointer"} <= set(model_names())
    assert isinstance(load_config(config_file).model, TextPointerConfig)
    mmkp = load_config(config_file, ["model.name=mmkp", "train.stage1.terms=[itm, gen]"])
    assert isinstance(mmkp.model, MMKPConfig)
    with pytest.raises(ConfigError, match=r"unknown key 'model\.head'"):
        load_config(config_file, ["model.name=mmkp", "model.head=classifier"])
    with pytest.raises(ConfigError, match=r"unknown model 'copyrnn'; known: .*mmkp"):
        load_config(config_file, ["model.name=copyrnn"])
    with pytest.raises(ConfigError, match=r"train\.stages\[0\]\.terms\[0\] must be one of \['gen'"):
        load_config(config_file, ["train.stage1.terms=[itm]"])


@pytest.mark.slow
@pytest.mark.parametrize("head", ["generator", "classifier"])
def test_a_second_model_trains_saves_loads_and_predicts_through_the_cli(
    head, config_file, tmp_path, one_thread
):
    out = tmp_path / "run"
    terms = "[gen]" if head == "generator" else "[cla]"
    settings = [f"model.head={head}", f"train.stage1.terms={terms}"]
    settings += [f"train.stage2.terms={terms}"]
    args = ["train", "--config", str(config_file), "--out", str(out)]
    assert main([*args, *[a for s in settings for a in ("--set", s)]]) == 0

    saved = json.loads((out / "model" / "config.json").read_text())
    assert saved["model"]["name"] == "text-pointer" and saved["model"]["head"] == head
    checkpoint = load_checkpoint(out / "model")
    assert isinstance(checkpoint.model, TextPointer)
    assert checkpoint.model.has_classifier == (head == "classifier")

    preds = tmp_path / "preds.jsonl"
    dev = DATA / "tiny_dev.jsonl"
    assert (
        main(["predict", "--model", str(out / "model"), "--input", str(dev), "--out", str(preds)])
        == 0
    )
    expected = list(Predictor.load(out / "model").predict_many(read_posts(dev)))
    assert [p.keyphrases for p in read_predictions(preds)] == [r.texts for r in expected]
    assert all(1 <= len(r.keyphrases) <= 3 for r in expected)
    if head == "classifier":  # ranked labels, scored by their log-softmax
        assert all(kp in checkpoint.labels for r in expected for kp in r.texts)
        scores = [kp.score for r in expected for kp in r.keyphrases]
        assert all(score <= 0 for score in scores)
    assert main(["predict", "--model", str(out / "model"), "--text", "a puppy at the beach"]) == 0

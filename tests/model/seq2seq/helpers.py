"""What the ATT / COPY / TOPIC / TMN tests share: the tiny vocabulary of tests/model/conftest
(50 ids, word i is "w{i}"), a save/load round trip, a few optimiser steps, and training
and predicting through the CLI on the handmade posts of tests/training/data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from mmkp.cli.main import main
from mmkp.data.batch import Batch
from mmkp.data.jsonl import read_posts
from mmkp.data.processor import TextOptions
from mmkp.data.vocab import SPECIALS, LabelSet, Vocab
from mmkp.decoding.config import DecodeConfig
from mmkp.decoding.protocol import full_width
from mmkp.evaluation.prediction_files import read_predictions
from mmkp.inference.checkpoint import InferenceConfig, load_checkpoint, save_checkpoint
from mmkp.inference.predictor import Predictor

from ..conftest import LABEL_WORD_IDS, VOCAB_SIZE, make_batch

DATA = Path(__file__).resolve().parents[2] / "training" / "data"
BASELINES = Path(__file__).resolve().parents[3] / "configs" / "baselines"  # the shipped configs


def tiny_vocab() -> Vocab:
    return Vocab([*SPECIALS, *(f"w{i}" for i in range(len(SPECIALS), VOCAB_SIZE))])


def tiny_labels() -> LabelSet:
    """The six keyphrases of conftest's LABEL_WORD_IDS."""
    vocab = tiny_vocab()
    return LabelSet(
        [" ".join(vocab.decode([i for i in row if i])) for row in LABEL_WORD_IDS.tolist()]
    )


def outputs(model: Any, batch: Batch) -> torch.Tensor:
    """What a model predicts from: the generator's log-probs or the classifier's logits."""
    encoded = model.encode(batch)
    if model.has_generator:
        return model.teacher_forced(batch, encoded)
    return encoded.label_logits


def assert_round_trip(model: Any, batch: Batch, tmp_path: Path) -> None:
    """Saved and loaded, the model computes exactly what it computed before."""
    model.eval()
    config = InferenceConfig(model=model.config, text=TextOptions(), decode=DecodeConfig())
    save_checkpoint(
        tmp_path / "saved", model=model, vocab=tiny_vocab(), labels=tiny_labels(), config=config
    )
    loaded = load_checkpoint(tmp_path / "saved").model
    assert type(loaded) is type(model)
    with torch.no_grad():
        assert torch.equal(outputs(loaded, batch), outputs(model, batch))


def assert_trained_round_trip(model: Any, terms: list[str], tmp_path: Path) -> None:
    """A few steps of training (so no weight is at its initial value), then the round trip
    on another batch."""
    train_steps(model, make_batch(), terms, steps=3)
    assert_round_trip(model, make_batch(seed=1), tmp_path)


def assert_stepping_gives_teacher_forcing(model: Any, batch: Batch) -> None:
    """Decoding step by step on the target gives the teacher-forced log-probs."""
    model.eval()
    with torch.no_grad():
        encoded = model.encode(batch)
        forced = model.teacher_forced(batch, encoded)
        state = model.init_decoder_state(batch, encoded)
        for j in range(batch.trg_in.size(1)):
            step, _, state = model.step(batch.trg_in[:, j], state)
            torch.testing.assert_close(full_width(step), forced[:, j])


def train_steps(model: Any, batch: Batch, terms: list[str], steps: int = 30) -> list[float]:
    """The total loss before each of `steps` Adam steps on one batch."""
    model.train()
    optimiser = torch.optim.Adam(model.parameters(), lr=0.01)
    history = []
    for _ in range(steps):
        optimiser.zero_grad()
        loss = model(batch, terms).total
        loss.backward()
        optimiser.step()
        history.append(loss.item())
    return history


def assert_every_parameter_gets_a_gradient(model: Any, batch: Batch, terms: list[str]) -> None:
    model.train()
    model.zero_grad()
    model(batch, terms).total.backward()
    missing = [name for name, p in model.named_parameters() if p.grad is None or not p.grad.any()]
    assert not missing, f"no gradient reaches {missing}"


def config_file(tmp_path: Path, model: str, stage1: str, stage2: str) -> Path:
    """A tiny experiment on the handmade posts (post text only, as the shipped configs)."""
    path = tmp_path / "config.yaml"
    path.write_text(
        f"""
data:
  train: {DATA / "tiny_train.jsonl"}
  dev: {DATA / "tiny_dev.jsonl"}
  use_ocr: false
  use_entities: false
model: {model}
train:
  seed: 3
  threads: 1
  eval_batch_size: 8
  stage1: {stage1}
  stage2: {stage2}
decode: {{beam_size: 3, max_len: 4, top_k: 3}}
""",
        encoding="utf-8",
    )
    return path


def train_and_predict_through_the_cli(config: Path, tmp_path: Path, name: str) -> Path:
    """`mmkp train` then `mmkp predict`: the saved model names its member, and the CLI's
    predictions equal the predictor's. Returns the model directory."""
    out = tmp_path / "run"
    assert main(["train", "--config", str(config), "--out", str(out)]) == 0
    saved = json.loads((out / "model" / "config.json").read_text())
    assert saved["model"]["name"] == name
    assert saved["text"]["use_ocr"] is False and saved["text"]["use_entities"] is False
    preds, dev = tmp_path / "preds.jsonl", DATA / "tiny_dev.jsonl"
    args = ["predict", "--model", str(out / "model"), "--input", str(dev), "--out", str(preds)]
    assert main(args) == 0
    expected = list(Predictor.load(out / "model").predict_many(read_posts(dev)))
    assert [p.keyphrases for p in read_predictions(preds)] == [r.texts for r in expected]
    assert all(1 <= len(r.keyphrases) <= 3 for r in expected)
    return out / "model"

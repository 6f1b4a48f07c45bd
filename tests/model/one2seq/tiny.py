"""What the One2Seq and One2Set tests share: a tiny Transformer config, the tiny posts as
one2seq rows, and the round trip through `mmkp train` and `mmkp predict`."""

from __future__ import annotations

from pathlib import Path

import torch

from mmkp.cli.main import main
from mmkp.data.batch import Batch
from mmkp.data.batching import collate
from mmkp.data.config import DataConfig, SplitConfig
from mmkp.data.jsonl import read_posts
from mmkp.decoding.config import DecodeConfig
from mmkp.decoding.heads import predict_keyphrases
from mmkp.evaluation.prediction_files import read_predictions
from mmkp.inference.checkpoint import InferenceConfig, load_checkpoint, save_checkpoint
from mmkp.inference.predictor import Predictor
from mmkp.model.registry import build_model, config_class
from mmkp.training.data import TrainingData, prepare_data

DATA = Path(__file__).resolve().parents[2] / "training" / "data"
SIZES = dict(
    embeddings="random",
    emb_size=16,
    d_model=16,
    num_heads=2,
    encoder_layers=1,
    decoder_layers=1,
    ff_size=32,
    dropout=0.0,
)


def tiny_data(targets: str = "one2seq") -> TrainingData:
    train, dev = (
        SplitConfig(str(DATA / "tiny_train.jsonl")),
        SplitConfig(str(DATA / "tiny_dev.jsonl")),
    )
    return prepare_data(DataConfig(train=train, dev=dev, targets=targets, max_src_len=32))


def tiny_model(name: str, data: TrainingData, **settings):
    torch.manual_seed(0)
    return build_model(config_class(name)(**SIZES, **settings), data.vocab, data.labels)


def first_batch(data: TrainingData, size: int = 8) -> Batch:
    return collate(data.train_examples[:size])


def loss_after_steps(model, batch: Batch, steps: int) -> tuple[float, float]:
    """The loss before and after `steps` Adam steps on one batch."""
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    first = last = 0.0
    for step in range(steps + 1):
        optimizer.zero_grad()
        loss = model(batch, ["gen"]).total
        first, last = (float(loss.detach()),) * 2 if step == 0 else (first, float(loss.detach()))
        loss.backward()
        optimizer.step()
    return first, last


def config_text(name: str, model_lines: str, decode: str, *, epochs: int = 3) -> str:
    sizes = ", ".join(f"{k}: {v}" for k, v in SIZES.items())
    return f"""
data:
  train: {DATA / "tiny_train.jsonl"}
  dev: {DATA / "tiny_dev.jsonl"}
  max_src_len: 32
  targets: one2seq
model: {{name: {name}, {sizes}{model_lines}}}
train:
  seed: 3
  threads: 1
  eval_batch_size: 8
  stage1: {{epochs: {epochs}, terms: [gen], batch_size: 4, lr: 0.01, monitor: F1@1,
    patience: {epochs}}}
  stage2: {{epochs: 0, terms: [gen], monitor: F1@1}}
decode: {decode}
"""


def train_and_predict(tmp_path: Path, name: str, config: str) -> tuple[object, list, list]:
    """Train through `mmkp train`, predict the dev posts through `mmkp predict`; returns the
    loaded model, the CLI's keyphrases and a fresh Predictor's."""
    path = tmp_path / f"{name}.yaml"
    path.write_text(config, encoding="utf-8")
    out, preds, dev = tmp_path / "run", tmp_path / "preds.jsonl", DATA / "tiny_dev.jsonl"
    assert main(["train", "--config", str(path), "--out", str(out)]) == 0
    args = ["predict", "--model", str(out / "model"), "--input", str(dev), "--out", str(preds)]
    assert main(args) == 0
    again = [r.texts for r in Predictor.load(out / "model").predict_many(read_posts(dev))]
    cli = [p.keyphrases for p in read_predictions(preds)]
    return load_checkpoint(out / "model").model, cli, again


def save_and_load(model, data: TrainingData, directory: Path):
    """The model written as a model directory and read back (in eval mode)."""
    config = InferenceConfig(model=model.config, text=data.config.text, decode=DecodeConfig())
    save_checkpoint(directory, model=model, vocab=data.vocab, labels=data.labels, config=config)
    return load_checkpoint(directory).model


def dev_keyphrases(model, data: TrainingData, decode: DecodeConfig) -> list[list[str]]:
    model.eval()
    batch = collate(data.dev_post_examples)
    rows = predict_keyphrases(model, batch, data.vocab, data.labels, decode)
    return [[kp.text for kp in row] for row in rows]

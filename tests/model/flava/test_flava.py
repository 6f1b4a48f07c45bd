"""FLAVA on a tiny randomly initialised FlavaConfig the test saves (no pretrained weights
exist offline): X_T re-tokenised exactly, shapes, gradients, masking, loss falls, save/load
through the CLI gives the same predictions, and one error line for each unusable setting."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from mmkp.config_loader import ConfigError
from mmkp.data.jsonl import read_posts
from mmkp.data.vocab import SPECIALS, Vocab
from mmkp.features.store import FeatureWriter
from mmkp.model.classifiers.config import CLASSIFIER_TERMS
from mmkp.model.flava import FlavaClassifier, FlavaClassifierConfig
from mmkp.model.flava.loading import load_flava
from mmkp.model.flava.model import source_texts
from mmkp.training.config import load_config

from ..conftest import IMAGE_DIM, LABEL_WORD_IDS, VOCAB_SIZE, make_batch
from ..feature_cli import train_and_predict_on_features

transformers = pytest.importorskip("transformers")

ROOT = Path(__file__).resolve().parents[3]
CONFIG = ROOT / "configs" / "baselines" / "flava-generated.yaml"
TINY_DATA = ROOT / "tests" / "training" / "data"
NUM_LABELS = LABEL_WORD_IDS.size(0)
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


@pytest.fixture(scope="module")
def flava_dir(tmp_path_factory) -> Path:
    """A FLAVA model of width 16 with random weights and a word-piece vocabulary of the words
    of the tiny posts and of the hand-built vocabulary, saved as a user would."""
    words = {w for line in (TINY_DATA / "tiny_train.jsonl").open() for w in line.split()}
    words |= {f"w{i}" for i in range(VOCAB_SIZE)}
    vocab = {token: i for i, token in enumerate([*SPECIAL, *sorted(words)])}
    layers = {"num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 32}
    config = transformers.FlavaConfig(
        text_config={"vocab_size": len(vocab), "hidden_size": 16, **layers},
        image_config={"hidden_size": 16, "image_size": 32, "patch_size": 16, **layers},
        multimodal_config={"hidden_size": 16, **layers},
        projection_dim=16,
    )
    folder = tmp_path_factory.mktemp("flava")
    torch.manual_seed(0)
    model = transformers.FlavaModel(config)
    # A fresh FLAVA's CLS_M token is zero, so its query (and W_q's gradient) is zero until a
    # step moves it; pretrained weights have a learned one, as this stand-in does.
    torch.nn.init.normal_(model.multimodal_model.cls_token, std=0.02)
    model.save_pretrained(folder)
    transformers.BertTokenizer(vocab=vocab).save_pretrained(folder)
    return folder


def tiny_flava(flava_dir: Path, vocab: Vocab, seed: int = 0) -> FlavaClassifier:
    config = FlavaClassifierConfig(
        flava_path=str(flava_dir), hidden_size=4, dropout=0.0, image_dim=IMAGE_DIM
    )
    torch.manual_seed(seed)
    return FlavaClassifier(config, vocab=vocab, num_labels=NUM_LABELS)


def hand_vocab() -> Vocab:
    """Words for the hand-built batch's ids (`<seg>` at the ids the batch puts it)."""
    return Vocab([*SPECIALS, *(f"w{i}" for i in range(len(SPECIALS), VOCAB_SIZE))])


def test_source_texts_are_the_words_of_x_t_with_sep_for_seg():
    vocab = Vocab([*SPECIALS, "dog", "beach"])  # <seg> is 4, dog 5, beach 6; 7: an OOV word
    batch = replace(
        make_batch(),
        src_ext_ids=torch.tensor([[5, 4, 7, 4, 6], [6, 4, 4, 0, 0]]),
        src_mask=torch.tensor([[True] * 5, [True, True, True, False, False]]),
        oov_words=[["zebra"], []],
    )
    assert source_texts(batch, vocab, "[SEP]") == [
        "dog [SEP] zebra [SEP] beach",
        "beach [SEP] [SEP]",
    ]


def test_logits_gradients_and_masked_image_rows(flava_dir):
    model = tiny_flava(flava_dir, hand_vocab())
    batch = replace(make_batch(), label=torch.tensor([0, 1, 2, 5]))
    assert model.encode(batch).label_logits.shape == (batch.size, NUM_LABELS)
    assert model.inputs == frozenset({"text", "grid"})
    model(batch, CLASSIFIER_TERMS).total.backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name
    model.eval()
    with torch.no_grad():
        logits = model.encode(batch).label_logits
        noise = batch.grid.clone()
        noise[1] = torch.randn(noise.shape[1:])  # row 1 has no image: not read
        assert torch.allclose(model.encode(replace(batch, grid=noise)).label_logits, logits)
        text_only = model.encode(make_batch(with_grid=False)).label_logits
        assert torch.allclose(text_only[1], logits[1], atol=1e-6)


def test_the_loss_falls_on_a_tiny_batch(flava_dir):
    model = tiny_flava(flava_dir, hand_vocab())
    batch = replace(make_batch(), label=torch.tensor([0, 1, 2, 5]))
    optimiser = torch.optim.Adam(model.parameters(), lr=0.01)
    losses = []
    for _ in range(25):
        optimiser.zero_grad()
        loss = model(batch, CLASSIFIER_TERMS).total
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_unusable_settings_are_one_clear_error(flava_dir, tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match=r"model\.flava_path must name a local FLAVA"):
        load_config(CONFIG, ["model.flava_path=null"])
    with pytest.raises(ValueError, match="no such folder; save a FLAVA model"):
        load_flava(tmp_path / "missing")
    other = tmp_path / "bert"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(ValueError, match="model_type is 'bert', not 'flava'"):
        load_flava(other)
    monkeypatch.setitem(sys.modules, "transformers", None)  # as if not installed
    with pytest.raises(ValueError, match=r"needs the transformers package: pip install"):
        load_flava(flava_dir)


@pytest.mark.slow
def test_trains_saves_loads_and_predicts_through_the_cli(flava_dir, tmp_path, capsys):
    posts = read_posts(TINY_DATA / "tiny_train.jsonl") + read_posts(TINY_DATA / "tiny_dev.jsonl")
    features = tmp_path / "features"
    writer = FeatureWriter(features, backbone="handmade", dim=IMAGE_DIM)
    rng = np.random.default_rng(0)
    with_image = [post.id for post in posts[::2]]  # every other post has an image
    writer.append(with_image, rng.uniform(0.1, 1.0, (len(with_image), 49, IMAGE_DIM)))
    settings = [
        f"data.train={TINY_DATA / 'tiny_train.jsonl'}",
        f"data.dev={TINY_DATA / 'tiny_dev.jsonl'}",
        "data.test=null",
        f"data.features={features}",
        f"model.flava_path={flava_dir}",
        f"model.image_dim={IMAGE_DIM}",
        "model.hidden_size=8",
        "train.threads=1",
        "train.stage1.epochs=3",
        "train.stage1.batch_size=8",
        "train.stage1.lr=0.01",
    ]
    _, expected = train_and_predict_on_features(
        CONFIG, settings, tmp_path, dev=TINY_DATA / "tiny_dev.jsonl", features=features
    )
    assert all(len(r.texts) == 5 for r in expected)

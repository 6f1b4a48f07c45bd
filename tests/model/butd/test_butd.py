"""BUTD: a tiny model on the hand-built batch (shapes, gradients, padding and image-less rows,
loss falls), and the shipped config end to end on generated posts whose regions go through
`mmkp prepare --regions`, with save/load giving the same predictions."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from mmkp.cli.main import main
from mmkp.config_loader import ConfigError
from mmkp.data.jsonl import read_posts
from mmkp.data.synthetic import generate
from mmkp.features.regions import REGION_BACKBONE
from mmkp.features.store import FeatureStore
from mmkp.inference.checkpoint import load_checkpoint
from mmkp.model.butd import BottomUpTopDown, ButdConfig
from mmkp.model.classifiers.config import CLASSIFIER_TERMS
from mmkp.training.config import load_config

from ..conftest import IMAGE_DIM, LABEL_WORD_IDS, VOCAB_SIZE, make_batch
from ..feature_cli import train_and_predict_on_features

ROOT = Path(__file__).resolve().parents[3]
CONFIG = ROOT / "configs" / "baselines" / "butd-generated.yaml"
NUM_LABELS = LABEL_WORD_IDS.size(0)
REGION_DIM = 6


def tiny_butd(seed: int = 0) -> BottomUpTopDown:
    config = ButdConfig(hidden_size=4, dropout=0.0, image_dim=IMAGE_DIM)
    torch.manual_seed(seed)
    return BottomUpTopDown(config, vocab_size=VOCAB_SIZE, num_labels=NUM_LABELS)


def labelled_batch():
    return replace(make_batch(), label=torch.tensor([0, 1, 2, 5]))


def test_logits_over_the_labels_and_gradients_reach_every_parameter():
    model, batch = tiny_butd(), labelled_batch()
    encoded = model.encode(batch)
    assert encoded.label_logits.shape == (batch.size, NUM_LABELS)
    assert model.inputs == frozenset({"grid"})
    assert (model.has_generator, model.has_classifier) == (False, True)
    model(batch, CLASSIFIER_TERMS).total.backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


def test_zero_padding_rows_and_image_less_rows_get_no_attention():
    model, batch = tiny_butd().eval(), make_batch()
    with torch.no_grad():
        logits = model.encode(batch).label_logits
        padded = torch.cat([batch.grid, torch.zeros(batch.size, 3, IMAGE_DIM)], dim=1)
        assert torch.allclose(model.encode(replace(batch, grid=padded)).label_logits, logits)
        noise = batch.grid.clone()
        noise[1] = torch.randn(noise.shape[1:])  # row 1 has no image: its grid is not read
        assert torch.allclose(model.encode(replace(batch, grid=noise)).label_logits, logits)
        moved = batch.grid.clone()
        moved[0] = torch.randn(moved.shape[1:])  # row 0's image counts
        changed = model.encode(replace(batch, grid=moved)).label_logits
        assert not torch.allclose(changed[0], logits[0])


def test_the_loss_falls_on_a_tiny_batch():
    model, batch = tiny_butd(), labelled_batch()
    optimiser = torch.optim.Adam(model.parameters(), lr=0.05)
    losses = []
    for _ in range(30):
        optimiser.zero_grad()
        loss = model(batch, CLASSIFIER_TERMS).total
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < 0.2 * losses[0]


def test_the_config_refuses_data_without_image_features():
    config = load_config(CONFIG)
    assert isinstance(config.model, ButdConfig) and config.train.stage("stage1").terms == ("cla",)
    assert len(config.train.stages) == 1 and config.decode.top_k == 5
    with pytest.raises(ConfigError, match="cla: model 'butd' reads image grids"):
        load_config(CONFIG, ["data.features=null"])


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    """The demo's layout (prepared/*.jsonl) with detector-style regions: a random number of
    regions per image, stored through `mmkp prepare --regions` with 4 kept per image."""
    root = tmp_path_factory.mktemp("generated")
    data = generate(root / "prepared", n_train=24, n_dev=8, n_test=4, seed=3)
    folder = root / "detector"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for split in (data.train, data.dev, data.test):
        for post in read_posts(split):
            count = int(rng.integers(2, 7))
            np.save(folder / f"{post.id}.npy", rng.uniform(0.1, 2.0, (count, REGION_DIM)))
        args = ["prepare", "--input", str(split), "--out", str(root / "regions")]
        assert main([*args, "--regions", str(folder), "--region-count", "4"]) == 0
    return root


@pytest.mark.slow
def test_the_generated_config_trains_saves_loads_and_predicts_on_stored_regions(
    generated, tmp_path
):
    config = generated / "butd.yaml"  # next to prepared/, as the benchmark runner puts it
    shutil.copy(CONFIG, config)
    features = generated / "regions" / "features"
    assert FeatureStore.open(features).backbone == REGION_BACKBONE
    settings = [
        f"data.features={features}",
        f"model.image_dim={REGION_DIM}",
        "model.hidden_size=8",
        "train.threads=1",
        "train.stage1.epochs=4",
        "train.stage1.batch_size=8",
        "train.stage1.lr=0.01",
    ]
    model_dir, expected = train_and_predict_on_features(
        config, settings, tmp_path, dev=generated / "prepared" / "dev.jsonl", features=features
    )
    assert json.loads((model_dir / "config.json").read_text())["backbone"] == REGION_BACKBONE
    labels = load_checkpoint(model_dir).labels
    assert all(len(r.texts) == min(5, len(labels)) for r in expected)
    assert all(kp in labels for r in expected for kp in r.texts)

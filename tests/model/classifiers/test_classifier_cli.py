"""The shipped configs/baselines/ configs of the classifiers train, save, load and predict
through the normal CLI: the generated-data ones on a tiny generated set with a handmade
feature store, the real-data ones on the handmade posts of tests/training/data."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from mmkp.cli.main import main
from mmkp.config_loader import ConfigError
from mmkp.data.jsonl import read_posts
from mmkp.data.synthetic import generate
from mmkp.evaluation.prediction_files import read_predictions
from mmkp.features.store import FeatureStore, FeatureWriter
from mmkp.inference.checkpoint import load_checkpoint
from mmkp.inference.predictor import Predictor
from mmkp.model.classifiers import MEMBERS
from mmkp.training.config import load_config

ROOT = Path(__file__).resolve().parents[3]
BASELINES = ROOT / "configs" / "baselines"
TINY_DATA = ROOT / "tests" / "training" / "data"
REAL = ["avg", "max"]  # co-att, ban and vgg need image grids, which the real split lacks
GRID_DIM = 8
TINY_MODEL = ["model.embeddings=random", "model.emb_size=16", "model.hidden_size=8"]
TINY_TRAIN = [
    "train.threads=1",
    "train.eval_batch_size=16",
    "train.stage1.epochs=4",
    "train.stage1.batch_size=8",
    "train.stage1.lr=0.01",
]


def test_every_shipped_classifier_config_loads_as_its_member():
    for name in MEMBERS:
        config = load_config(BASELINES / f"{name}-generated.yaml")
        assert config.model.name == name and config.train.stage("stage1").terms == ("cla",)
        assert len(config.train.stages) == 1 and config.decode.top_k == 5
    for name in REAL:
        config = load_config(BASELINES / f"{name}-real.yaml")
        assert config.data.features is None and config.data.train.last == 4770
        assert Path(config.data.train.path).parts[-3:] == ("data", "cmkp", "valid_ocr_kw.txt")


@pytest.mark.parametrize("name", ["vgg", "co-att", "ban"])
def test_an_image_member_without_grids_is_refused_when_the_config_is_read(name):
    with pytest.raises(ConfigError, match=f"cla: model '{name}' reads image grids"):
        load_config(BASELINES / f"{name}-generated.yaml", ["data.features=null"])


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    """A folder with prepared/{train,dev,test}.jsonl and prepared/features, as the benchmark
    runner lays out the demo's data; the grids are random, fixed by the split."""
    root = tmp_path_factory.mktemp("generated")
    data = generate(root / "prepared", n_train=24, n_dev=8, n_test=4, seed=3)
    writer = FeatureWriter(root / "prepared" / "features", backbone="handmade", dim=GRID_DIM)
    for split in (data.train, data.dev, data.test):
        posts = read_posts(split)
        grids = np.random.default_rng(len(posts)).normal(0.0, 1.0, (len(posts), 49, GRID_DIM))
        writer.append([p.id for p in posts], grids)
    return root


def train(config: Path, out: Path, settings: list[str]) -> None:
    args = ["train", "--config", str(config), "--out", str(out)]
    assert main([*args, *[a for s in settings for a in ("--set", s)]]) == 0


def check_run(out: Path, name: str) -> None:
    """The run trained L_cla (falling), exported its one stage's model, a member `name`."""
    rows = [json.loads(line) for line in (out / "stage1" / "metrics.jsonl").open()]
    assert rows[-1]["train_loss"] < rows[0]["train_loss"]
    assert {"train_cla", "dev_cla", "dev_F1@1"} <= rows[0].keys()
    assert not (out / "stage2").exists()  # one stage: the model is stage 1's best
    saved = json.loads((out / "model" / "config.json").read_text())
    assert saved["model"]["name"] == name
    assert json.loads((out / "dev_scores.json").read_text())


def check_predictions(model_dir: Path, posts_file: Path, out: Path, features: Path | None):
    """`mmkp predict` writes what the predictor ranks: five training labels per post."""
    preds = out / "preds.jsonl"
    args = ["predict", "--model", str(model_dir), "--input", str(posts_file), "--out", str(preds)]
    assert main([*args, *(["--features", str(features)] if features else [])]) == 0
    lookup = FeatureStore.open(features).get if features else None
    predictor = Predictor.load(model_dir)
    expected = list(predictor.predict_many(read_posts(posts_file), grid_lookup=lookup))
    assert [p.keyphrases for p in read_predictions(preds)] == [r.texts for r in expected]
    labels = load_checkpoint(model_dir).labels
    for result in expected:
        assert len(result.texts) == min(5, len(labels))
        assert all(kp in labels for kp in result.texts)
        scores = [kp.score for kp in result.keyphrases]
        assert scores == sorted(scores, reverse=True) and all(s <= 0 for s in scores)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(MEMBERS))
def test_a_generated_config_trains_and_predicts_through_the_cli(name, generated, tmp_path):
    config = generated / f"{name}.yaml"  # next to prepared/, as the benchmark runner puts it
    shutil.copy(BASELINES / f"{name}-generated.yaml", config)
    image = [f"model.image_dim={GRID_DIM}"] if MEMBERS[name][0]().reads_image else []
    train(config, tmp_path / "run", [*TINY_MODEL, *image, *TINY_TRAIN])
    check_run(tmp_path / "run", name)
    prepared = generated / "prepared"
    check_predictions(
        tmp_path / "run" / "model", prepared / "dev.jsonl", tmp_path, prepared / "features"
    )


@pytest.mark.slow
@pytest.mark.parametrize("name", REAL)
def test_a_real_config_trains_and_predicts_on_the_handmade_posts(name, tmp_path):
    data = [
        f"data.train={TINY_DATA / 'tiny_train.jsonl'}",
        f"data.dev={TINY_DATA / 'tiny_dev.jsonl'}",
    ]
    train(BASELINES / f"{name}-real.yaml", tmp_path / "run", [*data, *TINY_MODEL, *TINY_TRAIN])
    check_run(tmp_path / "run", name)
    check_predictions(tmp_path / "run" / "model", TINY_DATA / "tiny_dev.jsonl", tmp_path, None)
    assert (
        main(
            ["predict", "--model", str(tmp_path / "run" / "model"), "--text", "a day at the beach"]
        )
        == 0
    )

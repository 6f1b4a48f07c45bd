"""TMN: a classifier over the training keyphrases reading the text through the topic memory;
only L_ntm shapes the topics; save/load; the CLI end to end."""

from __future__ import annotations

import pytest
import torch

from mmkp.data.vocab import LabelSet
from mmkp.evaluation.prediction_files import read_predictions
from mmkp.inference.checkpoint import load_checkpoint
from mmkp.model.topic.config import TMNConfig
from mmkp.model.topic.tmn import TopicMemoryNetwork, build_tmn
from mmkp.training.config import load_config

from ..seq2seq.helpers import (
    BASELINES,
    assert_every_parameter_gets_a_gradient,
    assert_trained_round_trip,
    config_file,
    tiny_labels,
    tiny_vocab,
    train_and_predict_through_the_cli,
    train_steps,
)
from .tiny import NTM_WARM_UP, SIZES, cli_model

CONFIG = TMNConfig(**SIZES)


def tiny(seed: int = 0) -> TopicMemoryNetwork:
    torch.manual_seed(seed)
    return build_tmn(CONFIG, tiny_vocab(), tiny_labels())


def test_logits_rank_the_training_keyphrases(batch):
    model = tiny().eval()
    assert not model.has_generator and model.has_classifier
    with torch.no_grad():
        assert model.encode(batch).label_logits.shape == (4, len(tiny_labels()))
    with pytest.raises(ValueError, match="label set is empty"):
        build_tmn(CONFIG, tiny_vocab(), LabelSet([]))


def test_the_memory_reads_the_topic_mixture(batch):
    """Another topic mixture (the topic model's encoder moved) gives other logits."""
    model = tiny().eval()
    with torch.no_grad():
        before = model.encode(batch).label_logits
        model.topic_model.mean.bias.add_(3.0 * torch.arange(3.0))
        assert not torch.allclose(model.encode(batch).label_logits, before)


def test_only_the_ntm_loss_shapes_the_topics(batch):
    """L_cla reaches the topic model's encoder (through theta) but not its topic-word
    weights, which the memory reads without gradient."""
    model = tiny().train()
    model(batch, ["cla"]).total.backward()
    assert model.topic_model.words.weight.grad is None
    assert model.topic_model.mean.weight.grad is not None
    model.zero_grad()
    model(batch, ["ntm"]).total.backward()
    assert model.topic_model.words.weight.grad is not None
    assert model.classifier[1].weight.grad is None


def test_joint_training_reaches_every_parameter(batch):
    assert_every_parameter_gets_a_gradient(tiny(), batch, ["ntm", "cla"])


def test_the_loss_falls_on_a_tiny_batch(batch):
    model = tiny()
    losses = train_steps(model, batch, ["cla"])
    assert losses[-1] < 0.3 * losses[0]


def test_a_saved_model_computes_the_same(tmp_path):
    assert_trained_round_trip(tiny(seed=1), ["ntm", "cla"], tmp_path)


def test_the_shipped_configs_pre_train_the_ntm_then_train_jointly():
    for kind in ("real", "generated"):
        config = load_config(BASELINES / f"tmn-{kind}.yaml")
        assert isinstance(config.model, TMNConfig)
        assert config.train.stage("stage1").terms == ("ntm",)
        assert (
            config.train.stage("stage2").terms == ("ntm", "cla")
            and config.train.stage("stage2").trainable is None
        )
        assert not config.data.use_ocr and not config.data.use_entities


@pytest.mark.slow
def test_trains_saves_loads_and_predicts_through_the_cli(tmp_path, one_thread):
    stage2 = (
        "{epochs: 4, terms: [ntm, cla], batch_size: 4, lr: 0.01, monitor: F1@1, trainable: null}"
    )
    model_dir = train_and_predict_through_the_cli(
        config_file(tmp_path, cli_model("tmn"), NTM_WARM_UP, stage2), tmp_path, "tmn"
    )
    checkpoint = load_checkpoint(model_dir)
    assert isinstance(checkpoint.model, TopicMemoryNetwork)
    predicted = [kp for p in read_predictions(tmp_path / "preds.jsonl") for kp in p.keyphrases]
    assert predicted and all(kp in checkpoint.labels for kp in predicted)  # ranked labels

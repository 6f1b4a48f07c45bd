"""TOPIC (TAKG): the topic mixture conditions every decoding step; the NTM warm-up trains the
topic model alone; joint training reaches everything; save/load; the CLI end to end."""

from __future__ import annotations

import pytest
import torch

from mmkp.inference.checkpoint import load_checkpoint
from mmkp.model.topic.config import TakgConfig
from mmkp.model.topic.takg import TopicAwareSeq2Seq, build_takg
from mmkp.training.config import load_config

from ..conftest import VOCAB_SIZE
from ..seq2seq.helpers import (
    BASELINES,
    assert_every_parameter_gets_a_gradient,
    assert_stepping_gives_teacher_forcing,
    assert_trained_round_trip,
    config_file,
    tiny_labels,
    tiny_vocab,
    train_and_predict_through_the_cli,
    train_steps,
)
from .tiny import NTM_WARM_UP, SIZES, cli_model


def tiny(seed: int = 0) -> TopicAwareSeq2Seq:
    torch.manual_seed(seed)
    return build_takg(TakgConfig(**SIZES), tiny_vocab(), tiny_labels())


def test_the_bow_vocabulary_comes_from_the_word_vocabulary():
    model = tiny()
    assert model.topic_model.bow_size == 30
    with pytest.raises(ValueError, match=r"TakgConfig is model 'topic', got name 'tmn'"):
        TakgConfig(name="tmn")


def test_the_topic_mixture_joins_every_decoding_step(batch):
    model = tiny().eval()
    with torch.no_grad():
        encoded = model.encode(batch)
        theta = model.topic_model(batch.src_ids, batch.src_mask).theta  # (B, T)
        torch.testing.assert_close(encoded.fused, model.topic_projection(theta))
        log_probs = model.teacher_forced(batch, encoded)
        assert log_probs.shape == (4, batch.trg_in.size(1), VOCAB_SIZE + batch.max_oov)
        torch.testing.assert_close(log_probs.exp().sum(-1), torch.ones(log_probs.shape[:2]))
        encoded.fused = encoded.fused + 1.0  # another mixture, other predictions
        assert not torch.allclose(model.teacher_forced(batch, encoded), log_probs)


def test_stepping_gives_the_teacher_forced_log_probs(batch):
    assert_stepping_gives_teacher_forcing(tiny(), batch)


def test_the_ntm_warm_up_trains_the_topic_model_alone(batch):
    model = tiny().train()
    losses = model(batch, ["ntm"])
    assert set(losses) == {"ntm"}
    losses.total.backward()
    for name, param in model.named_parameters():
        assert (param.grad is not None) == name.startswith("topic_model."), name


def test_joint_training_reaches_every_parameter(batch):
    assert_every_parameter_gets_a_gradient(tiny(), batch, ["ntm", "gen"])


def test_the_loss_falls_on_a_tiny_batch(batch):
    losses = train_steps(tiny(), batch, ["ntm", "gen"])
    assert losses[-1] < 0.6 * losses[0]


def test_a_saved_model_computes_the_same(tmp_path):
    assert_trained_round_trip(tiny(seed=1), ["ntm", "gen"], tmp_path)


def test_the_shipped_configs_pre_train_the_ntm_then_train_jointly():
    for kind in ("real", "generated"):
        config = load_config(BASELINES / f"topic-{kind}.yaml")
        assert isinstance(config.model, TakgConfig)
        assert (
            config.train.stage("stage1").terms == ("ntm",)
            and config.train.stage("stage1").monitor == "loss"
        )
        assert config.train.stage("stage2").terms == ("ntm", "gen")
        assert config.train.stage("stage2").trainable is None  # everything
        assert not config.data.use_ocr and not config.data.use_entities  # the post text


@pytest.mark.slow
def test_trains_saves_loads_and_predicts_through_the_cli(tmp_path, one_thread):
    stage2 = (
        "{epochs: 3, terms: [ntm, gen], batch_size: 4, lr: 0.01, monitor: F1@1, trainable: null}"
    )
    model_dir = train_and_predict_through_the_cli(
        config_file(tmp_path, cli_model("topic"), NTM_WARM_UP, stage2), tmp_path, "topic"
    )
    assert isinstance(load_checkpoint(model_dir).model, TopicAwareSeq2Seq)

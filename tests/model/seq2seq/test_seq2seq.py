"""ATT and COPY: the name is the copy switch; shapes, normalised distributions, stepping
equals teacher forcing, gradients, a falling loss, save/load, and the CLI end to end."""

from __future__ import annotations

import pytest
import torch

from mmkp.config_loader import ConfigError
from mmkp.data.vocab import BOS_ID, UNK_ID
from mmkp.decoding.protocol import full_width
from mmkp.inference.checkpoint import load_checkpoint
from mmkp.model.modules.copy_generator import CopyGenerator, generation_loss
from mmkp.model.seq2seq.config import Seq2SeqConfig
from mmkp.model.seq2seq.model import Seq2Seq, VocabularyGenerator, build
from mmkp.training.config import load_config

from ..conftest import VOCAB_SIZE
from .helpers import (
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


def tiny(name: str, seed: int = 0) -> Seq2Seq:
    torch.manual_seed(seed)
    config = Seq2SeqConfig(name=name, embeddings="random", emb_size=8, hidden_size=8, dropout=0.0)
    return build(config, tiny_vocab(), tiny_labels())


def test_the_name_is_the_copy_switch(tmp_path):
    assert isinstance(tiny("att").generator, VocabularyGenerator)
    assert isinstance(tiny("copy").generator, CopyGenerator)
    with pytest.raises(ValueError, match="model att or copy, got name 'seq2seq'"):
        Seq2SeqConfig(name="seq2seq")
    path = config_file(tmp_path, "{name: att}", "{epochs: 1, terms: [gen]}", "{epochs: 0}")
    assert load_config(path).model == Seq2SeqConfig(name="att")
    with pytest.raises(
        ConfigError, match=r"train\.stages\[0\]\.terms\[0\] must be one of \['gen'\]"
    ):
        load_config(path, ["train.stage1.terms=[cla]"])


@pytest.mark.parametrize(("name", "extra"), [("att", 0), ("copy", 2)])
def test_distributions_cover_the_vocabulary_or_the_extended_vocabulary(name, extra, batch):
    model = tiny(name).eval()
    with torch.no_grad():
        log_probs = model.teacher_forced(batch, model.encode(batch))
    assert batch.max_oov == 2
    assert log_probs.shape == (4, batch.trg_in.size(1), VOCAB_SIZE + extra)
    torch.testing.assert_close(log_probs.exp().sum(-1), torch.ones(log_probs.shape[:2]))


@pytest.mark.parametrize("name", ["att", "copy"])
def test_stepping_gives_the_teacher_forced_log_probs(name, batch):
    assert_stepping_gives_teacher_forcing(tiny(name), batch)


def test_att_is_trained_to_say_unk_for_a_word_it_cannot_copy(batch):
    """Row 2's target is a source OOV word: COPY's target is its extended id, ATT's <unk>."""
    model = tiny("att").eval()
    assert batch.trg_out[2, 0] >= VOCAB_SIZE
    with torch.no_grad():
        encoded = model.encode(batch)
        log_probs = model.teacher_forced(batch, encoded)
        targets = batch.trg_out.clone()
        targets[2, 0] = UNK_ID
        expected = generation_loss(log_probs, targets, batch.trg_mask)
        assert model(batch, ["gen"])["gen"].item() == pytest.approx(expected.item())


@pytest.mark.parametrize("name", ["att", "copy"])
def test_gradients_reach_every_parameter(name, batch):
    assert_every_parameter_gets_a_gradient(tiny(name), batch, ["gen"])


@pytest.mark.parametrize("name", ["att", "copy"])
def test_the_loss_falls_on_a_tiny_batch(name, batch):
    losses = train_steps(tiny(name), batch, ["gen"])
    assert losses[-1] < 0.3 * losses[0]


def test_only_copy_can_produce_a_source_oov_word(batch):
    """After training on row 2 (target: its OOV word), COPY's first step puts most mass on
    the word's extended id; ATT cannot produce it at all."""
    copy = tiny("copy")
    train_steps(copy, batch, ["gen"], steps=40)
    copy.eval()
    with torch.no_grad():
        state = copy.init_decoder_state(batch, copy.encode(batch))
        log_probs, _, _ = copy.step(torch.full((4,), BOS_ID), state)
    assert full_width(log_probs)[2].argmax() == batch.trg_out[2, 0]


@pytest.mark.parametrize("name", ["att", "copy"])
def test_a_saved_model_computes_the_same(name, tmp_path):
    assert_trained_round_trip(tiny(name, seed=1), ["gen"], tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["att", "copy"])
def test_trains_saves_loads_and_predicts_through_the_cli(name, tmp_path, one_thread):
    model = f"{{name: {name}, embeddings: random, emb_size: 16, hidden_size: 8}}"
    stage1 = "{epochs: 3, terms: [gen], batch_size: 4, lr: 0.01, monitor: F1@1}"
    config = config_file(tmp_path, model, stage1, "{epochs: 1, terms: [gen], lr: 0.001}")
    model_dir = train_and_predict_through_the_cli(config, tmp_path, name)
    loaded = load_checkpoint(model_dir).model
    assert isinstance(loaded, Seq2Seq) and loaded.copies == (name == "copy")


@pytest.mark.parametrize("name", ["att", "copy"])
def test_the_shipped_configs_train_the_generator_on_the_post_text(name):
    for kind in ("real", "generated"):
        config = load_config(BASELINES / f"{name}-{kind}.yaml")
        assert config.model.name == name and config.train.stage("stage1").terms == ("gen",)
        assert not config.data.use_ocr and not config.data.use_entities

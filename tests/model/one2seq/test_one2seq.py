"""One2Seq: the joined targets it trains on, its loss and decoding steps, the split of its
sequences into keyphrases, and the round trip through the CLI and a model directory."""

from __future__ import annotations

import pytest
import torch

from mmkp.data.batch import IGNORE_LABEL
from mmkp.data.processor import find_phrase, present_first
from mmkp.data.vocab import BOS_ID, SEG_ID
from mmkp.decoding.config import DecodeConfig
from mmkp.decoding.generate import split_at
from mmkp.decoding.strategy import Hypothesis
from mmkp.model.one2seq import One2Seq

from .tiny import (
    config_text,
    dev_keyphrases,
    first_batch,
    loss_after_steps,
    save_and_load,
    tiny_data,
    tiny_model,
    train_and_predict,
)

DECODE = DecodeConfig(beam_size=3, max_len=4, top_k=3)


def test_present_keyphrases_come_first_in_order_of_occurrence():
    tokens = ["the", "lakers", "win", "at", "the", "kids", "choice", "awards"]
    assert find_phrase(["kids", "choice"], tokens) == 5
    assert find_phrase(["choice", "kids"], tokens) is None
    assert present_first(["kca", "kids choice", "nba", "lakers"], tokens) == [
        "lakers",
        "kids choice",
        "kca",
        "nba",
    ]


def test_one2seq_rows_join_a_posts_keyphrases_with_seg():
    data = tiny_data()
    one2one = tiny_data("one2one")
    assert len(data.train_examples) == len(data.train_posts) < len(one2one.train_examples)
    several = next(e for e in data.train_examples if "<seg>" in e.trg_tokens)
    post = data.train_posts[several.post_index]
    assert " ".join(several.trg_tokens).split(" <seg> ") == present_first(
        post.keyphrases, several.src_tokens
    )
    assert SEG_ID in several.trg_ids
    assert all(e.label == IGNORE_LABEL for e in data.train_examples)


def test_loss_shapes_gradients_and_training(one_thread):
    data = tiny_data()
    model = tiny_model("one2seq", data)
    batch = first_batch(data)
    loss = model(batch, ["gen"])["gen"]
    assert loss.dim() == 0 and torch.isfinite(loss)
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.any()]
    assert missing == []
    first, last = loss_after_steps(tiny_model("one2seq", data), batch, 30)
    assert last < 0.2 * first


def test_a_step_gives_what_teacher_forcing_gives(one_thread):
    data = tiny_data()
    model = tiny_model("one2seq", data).eval()
    batch = first_batch(data, 2)
    encoded = model.encode(batch)
    state = model.init_decoder_state(batch, encoded)
    with torch.no_grad():
        forced = model.decoder(batch.trg_in, batch.trg_out, batch.trg_mask, state)  # (B, T)
        steps = []
        for j in range(batch.trg_in.size(1)):
            log_probs, attention, state = model.step(batch.trg_in[:, j], state)
            steps.append(-log_probs.gather(1, batch.trg_out[:, j : j + 1]).squeeze(1))
    assert attention.shape == batch.src_ids.shape
    stepped = torch.stack(steps, dim=1) * batch.trg_mask
    torch.testing.assert_close(stepped, forced, atol=1e-5, rtol=1e-5)
    # The state's prefix is the embedded inputs so far (DecoderState.hidden), <bos> first.
    bos = model.decoder.embed(torch.full((batch.size, 1), BOS_ID), None)
    assert state.hidden.size(1) == batch.trg_in.size(1)
    assert torch.equal(state.hidden[:, :1], bos)


def test_a_joined_sequence_splits_at_the_separator_in_order():
    attention = torch.arange(6.0).unsqueeze(1)  # (T, L=1): row t marks step t
    joined = Hypothesis((7, 8, SEG_ID, SEG_ID, 9, SEG_ID), -0.5, -3.0, True, attention)
    parts = split_at(joined, SEG_ID)
    assert [p.tokens for p in parts] == [(7, 8), (9,)]
    assert [p.attention[:, 0].tolist() for p in parts] == [[0.0, 1.0], [4.0]]
    assert all(p.score == -0.5 for p in parts)


def test_one2one_rows_are_refused_with_the_fix():
    data = tiny_data("one2one")
    model = tiny_model("one2seq", data)
    with pytest.raises(ValueError, match=r"set data\.targets: one2seq"):
        model(first_batch(data, len(data.train_examples)), ["gen"])


def test_save_and_load_give_identical_predictions(tmp_path, one_thread):
    data = tiny_data()
    model = tiny_model("one2seq", data)
    loss_after_steps(model, first_batch(data), 20)
    loaded = save_and_load(model, data, tmp_path / "model")
    assert isinstance(loaded, One2Seq)
    before, after = dev_keyphrases(model, data, DECODE), dev_keyphrases(loaded, data, DECODE)
    assert before == after and any(before)
    batch = first_batch(data)
    assert float(model(batch, ["gen"]).total.detach()) == float(
        loaded(batch, ["gen"]).total.detach()
    )


@pytest.mark.slow
def test_trains_saves_loads_and_predicts_through_the_cli(tmp_path, one_thread):
    config = config_text("one2seq", "", "{beam_size: 3, max_len: 4, top_k: 3}")
    model, cli, predictor = train_and_predict(tmp_path, "one2seq", config)
    assert isinstance(model, One2Seq)
    assert cli == predictor and any(cli) and all(len(row) <= 3 for row in cli)

"""One2Set: slot targets from joined rows, the set loss, parallel slot decoding without ∅,
its ranking, and the round trip through the CLI and a model directory."""

from __future__ import annotations

import pytest
import torch

from mmkp.data.vocab import EOS_ID, PAD_ID, SEG_ID
from mmkp.decoding.config import DecodeConfig
from mmkp.model.one2set import One2Set
from mmkp.model.one2set.config import One2SetConfig
from mmkp.model.one2set.targets import slot_targets, split_target

from ..one2seq.tiny import (
    SIZES,
    config_text,
    dev_keyphrases,
    first_batch,
    loss_after_steps,
    save_and_load,
    tiny_data,
    tiny_model,
    train_and_predict,
)

DECODE = DecodeConfig(max_len=4, top_k=3, strategy="greedy")


def test_a_joined_target_splits_into_its_keyphrases():
    assert split_target([7, 8, SEG_ID, 9, EOS_ID, PAD_ID]) == [[7, 8], [9]]
    assert split_target([EOS_ID]) == []


def test_present_and_absent_keyphrases_fill_their_own_slots():
    data = tiny_data()
    batch = first_batch(data, 1)  # "so excited ... kids choice awards ...", keyphrase "kca"
    vocab = data.vocab
    kids, kca = vocab.id("kids"), batch.trg_out[0, 0]
    batch.trg_out = torch.tensor([[kca, SEG_ID, kids, vocab.id("choice"), EOS_ID]])
    batch.trg_mask = torch.ones_like(batch.trg_out, dtype=torch.bool)
    config = One2SetConfig(**SIZES, num_slots=4, max_kp_len=3)
    targets = slot_targets(batch, config)
    assert targets.tokens[0].tolist() == [
        [kids, vocab.id("choice"), EOS_ID],  # present slots 0-1
        [EOS_ID, PAD_ID, PAD_ID],  # ∅
        [int(kca), EOS_ID, PAD_ID],  # absent slots 2-3
        [EOS_ID, PAD_ID, PAD_ID],
    ]
    assert targets.null[0].tolist() == [False, True, False, True]
    assert targets.mask[0].sum(dim=1).tolist() == [3, 1, 2, 1]
    short = slot_targets(batch, One2SetConfig(**SIZES, num_slots=4, max_kp_len=2))
    assert short.null[0].tolist() == [True, True, False, True]  # "kids choice" is too long


def test_loss_shapes_gradients_and_training(one_thread):
    data = tiny_data()
    model = tiny_model("one2set", data, num_slots=4)
    batch = first_batch(data)
    loss = model(batch, ["gen"])["gen"]
    assert loss.dim() == 0 and torch.isfinite(loss)
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.any()]
    assert missing == []
    assert model.training  # the assignment ran without dropout and gave the mode back
    first, last = loss_after_steps(tiny_model("one2set", data, num_slots=4), batch, 40)
    assert last < 0.2 * first


def test_slots_decode_in_parallel_and_drop_the_empty_ones(one_thread):
    data = tiny_data()
    model = tiny_model("one2set", data, num_slots=4)
    batch = first_batch(data)
    loss_after_steps(model, batch, 60)
    model.eval()
    found = model.search_keyphrases(batch, model.encode(batch), max_len=4, blocked_ids=())
    assert len(found) == batch.size
    gold = [data.train_posts[int(i)].keyphrases for i in batch.post_index]
    words = [[" ".join(data.vocab.decode(kp.tokens)) for kp in row] for row in found]
    assert [sorted(set(row)) for row in words] == [sorted(kps) for kps in gold]  # others ∅
    assert all(
        kp.attention.shape == (len(kp.tokens), batch.src_ids.size(1)) for r in found for kp in r
    )


def test_score_ranking_orders_by_confidence_slot_ranking_by_slot(one_thread):
    data = tiny_data()
    batch = first_batch(data)
    for ranking in ("slot", "score"):
        model = tiny_model("one2set", data, num_slots=4, ranking=ranking).eval()
        rows = model.search_keyphrases(batch, model.encode(batch), max_len=3, blocked_ids=(EOS_ID,))
        assert all(len(row) == 4 for row in rows)  # <eos> blocked: no slot can be ∅
        key = (lambda kp: kp.slot) if ranking == "slot" else (lambda kp: -kp.score)
        assert all(
            [kp.slot for kp in row] == [kp.slot for kp in sorted(row, key=key)] for row in rows
        )


def test_one2one_rows_are_refused_with_the_fix():
    data = tiny_data("one2one")
    model = tiny_model("one2set", data, num_slots=4)
    with pytest.raises(ValueError, match=r"set data\.targets: one2seq"):
        model(first_batch(data, len(data.train_examples)), ["gen"])


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="num_slots must be >= 1, and even"):
        One2SetConfig(**SIZES, num_slots=5)
    with pytest.raises(ValueError, match="assign_steps must be in"):
        One2SetConfig(**SIZES, max_kp_len=3, assign_steps=4)


def test_save_and_load_give_identical_predictions(tmp_path, one_thread):
    data = tiny_data()
    model = tiny_model("one2set", data, num_slots=4)
    loss_after_steps(model, first_batch(data), 30)
    loaded = save_and_load(model, data, tmp_path / "model")
    assert isinstance(loaded, One2Set)
    before, after = dev_keyphrases(model, data, DECODE), dev_keyphrases(loaded, data, DECODE)
    assert before == after and any(before)
    torch.manual_seed(1)  # the assignment runs without dropout, so the loss is deterministic
    assert float(model(first_batch(data), ["gen"]).total.detach()) == float(
        loaded(first_batch(data), ["gen"]).total
    )


@pytest.mark.slow
def test_trains_saves_loads_and_predicts_through_the_cli(tmp_path, one_thread):
    config = config_text(
        "one2set", ", num_slots: 4", "{max_len: 4, top_k: 3, strategy: greedy}", epochs=10
    )
    model, cli, predictor = train_and_predict(tmp_path, "one2set", config)
    assert isinstance(model, One2Set) and model.config.num_slots == 4
    assert cli == predictor and any(cli) and all(len(row) <= 3 for row in cli)

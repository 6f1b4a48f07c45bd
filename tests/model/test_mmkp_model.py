"""The whole model: shapes, masks, gradients, losses, decoding consistency, save/load."""

from __future__ import annotations

import math

import pytest
import torch
from safetensors.torch import load_model, save_model

from mmkp.model.modules.support import SupportLogProbs
from mmkp.model.outputs import Losses

from .conftest import LABEL_WORD_IDS, REGIONS, VOCAB_SIZE, make_batch, tiny_model

ALL_TERMS = {"itm", "irtm", "cla", "gen"}


def test_encode_shapes_and_image_less_rows(batch):
    encoded = tiny_model().encode(batch)
    assert encoded.memory.shape == (4, batch.src_ids.size(1), 16)
    assert encoded.text.shape == encoded.final.shape == encoded.fused.shape == (4, 16)
    assert encoded.label_logits.shape == (4, len(LABEL_WORD_IDS))
    assert encoded.regions.shape == encoded.filtered.shape == (4, REGIONS, 16)
    assert encoded.region_scores.shape == (4, REGIONS)
    # Row 1 has no image: zero H_I, s_c and A, all regions masked.
    assert encoded.regions[1].abs().sum() == 0
    assert encoded.match_score[1] == 0 and encoded.region_scores[1].abs().sum() == 0
    assert encoded.region_mask.tolist() == [[h] * REGIONS for h in (True, False, True, True)]
    assert ((encoded.match_score[[0, 2, 3]] > 0) & (encoded.match_score[[0, 2, 3]] < 1)).all()


def test_garbage_in_image_less_rows_does_not_leak(batch):
    model = tiny_model().eval()
    noisy = make_batch()
    noisy.grid[1] = torch.randn(REGIONS, noisy.grid.size(2)) * 100  # row 1 has has_image False
    clean, dirty = model.encode(batch), model.encode(noisy)
    torch.testing.assert_close(clean.fused, dirty.fused)
    torch.testing.assert_close(clean.label_logits, dirty.label_logits)
    assert dirty.match_score[1] == 0


def test_image_less_row_equals_text_only_batch(batch):
    model = tiny_model().eval()
    with_grid = model.encode(batch)
    without = model.encode(make_batch(with_grid=False))
    assert without.regions is None and without.match_score is None
    torch.testing.assert_close(with_grid.fused[1], without.fused[1])


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"match_source": "precomputed"},
        {"use_classifier_copy": False},
        {"image_text_matching": False},
        {"region_text_matching": False},
        {"noise_filter": False},
        {"use_image": False},
        {"encoder_layers": 2},
        {"matcher_residual": False},
        {"generator_hidden": False, "copy_lambda": 0.5, "label_copy": "word_softmax"},
        {"region_contrast": True},
        {"matcher_interaction": True},
        {"matcher_interaction": True, "matcher_residual": False},
    ],
)
def test_gradients_reach_every_parameter(batch, overrides):
    model = tiny_model(**overrides)
    model(batch, ALL_TERMS).total.backward()
    missing = [
        name for name, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0
    ]
    assert missing == []


def test_losses_terms_and_switches(batch):
    model = tiny_model()
    losses = model(batch, {"cla"})
    assert losses.get("itm") is None and losses.get("irtm") is None and losses.get("gen") is None
    # Only row 1 has a label (index 1): L_cla is its cross-entropy.
    logits = model.encode(batch).label_logits
    expected = -torch.log_softmax(logits[1], -1)[1]
    torch.testing.assert_close(losses.get("cla"), expected)
    off = tiny_model(use_itm_loss=False, use_irtm_loss=False, use_cla_loss=False)
    assert off(batch, ALL_TERMS).get("itm") is None
    assert off(batch, ALL_TERMS).get("irtm") is None
    assert off(batch, ALL_TERMS).get("cla") is None
    with pytest.raises(ValueError, match="no loss term applies"):
        _ = off(batch, {"itm", "irtm", "cla"}).total
    with pytest.raises(ValueError, match=r"unknown loss terms \['kl'\]"):
        model(batch, {"kl"})


def test_itm_and_irtm_not_applicable_without_grid():
    losses = tiny_model()(make_batch(with_grid=False), ALL_TERMS)
    assert losses.get("itm") is None and losses.get("irtm") is None
    assert losses.get("cla") is not None and losses.get("gen") is not None


def test_itm_loss_uses_labelled_image_rows_only(batch):
    model = tiny_model().eval()
    logit = model.encode(batch).match_logit
    # Rows 0 (label 1), 2 (label 0), 3 (label 1); row 1 has no label and no image.
    expected = (
        -(
            torch.log(torch.sigmoid(logit[0]))
            + torch.log(1 - torch.sigmoid(logit[2]))
            + torch.log(torch.sigmoid(logit[3]))
        )
        / 3
    )
    torch.testing.assert_close(model(batch, {"itm"}).get("itm"), expected)


def test_generation_loss_is_summed_over_tokens_and_averaged_over_rows_with_a_target(batch):
    model = tiny_model().eval()
    log_probs = model.teacher_forced(batch, model.encode(batch))
    picked = log_probs.gather(2, batch.trg_out.unsqueeze(-1)).squeeze(-1)
    with_target = int(batch.trg_mask.any(dim=1).sum())
    assert with_target == batch.size - 1  # the batch has one keyphrase-less row
    expected = -(picked * batch.trg_mask).sum() / with_target
    torch.testing.assert_close(model(batch, {"gen"}).get("gen"), expected)


def test_teacher_forced_distribution_sums_to_one(batch):
    model = tiny_model()
    log_probs = model.teacher_forced(batch, model.encode(batch))
    assert log_probs.shape == (4, batch.trg_in.size(1), VOCAB_SIZE + batch.max_oov)
    torch.testing.assert_close(log_probs.exp().sum(-1), torch.ones(log_probs.shape[:2]))


def test_step_by_step_equals_teacher_forcing(batch):
    model = tiny_model().eval()
    encoded = model.encode(batch)
    forced = model.teacher_forced(batch, encoded)
    state = model.init_decoder_state(batch, encoded)
    for j in range(batch.trg_in.size(1)):
        log_probs, attention, state = model.step(batch.trg_in[:, j], state)
        torch.testing.assert_close(log_probs, forced[:, j], atol=1e-5, rtol=1e-5)
        assert (attention[~batch.src_mask] == 0).all()


def test_step_maps_extended_ids_to_unk(batch):
    model = tiny_model().eval()
    state = model.init_decoder_state(batch, model.encode(batch))
    oov = torch.full((4,), VOCAB_SIZE)  # the first source OOV word
    unk = torch.full((4,), 1)
    torch.testing.assert_close(model.step(oov, state)[0], model.step(unk, state)[0])


def test_reorder_expands_rows_for_beam_search(batch):
    model = tiny_model().eval()
    state = model.init_decoder_state(batch, model.encode(batch))
    beam = 3
    index = torch.arange(4).repeat_interleave(beam)
    tokens = torch.tensor([2, 20, 21, 3])
    single, _, _ = model.step(tokens, state)
    expanded, _, next_state = model.step(tokens.repeat_interleave(beam), state.reorder(index))
    torch.testing.assert_close(expanded, single.repeat_interleave(beam, dim=0))
    assert next_state.hidden.size(0) == next_state.copy_ids.size(0) == 4 * beam
    assert next_state.ext_size == state.ext_size == VOCAB_SIZE + 2


def test_inference_steps_hold_log_p_on_the_support_bit_for_bit(batch):
    """Without autograd the state holds each post's support and `step` returns log P there:
    exactly the full-width step's values, also for beams expanded from the post."""
    model = tiny_model().eval()
    encoded = model.encode(batch)
    tokens = torch.tensor([2, 20, 21, 3])
    expected, _, _ = model.step(tokens, model.init_decoder_state(batch, encoded))
    with torch.no_grad():
        state = model.init_decoder_state(batch, encoded)
        found, _, _ = model.step(tokens, state)
        beams, _, _ = model.step(tokens.repeat_interleave(3), state.expand(3))
    assert isinstance(found, SupportLogProbs) and found.ids.size(0) == 4
    assert torch.equal(found.dense(), expected.detach())
    assert isinstance(beams, SupportLogProbs) and beams.ids.size(0) == 4
    assert torch.equal(beams.dense(), expected.detach().repeat_interleave(3, dim=0))


def test_save_load_round_trip(tmp_path, batch):
    model = tiny_model(seed=1).eval()
    save_model(model, str(tmp_path / "model.safetensors"))
    other = tiny_model(seed=2).eval()
    load_model(other, str(tmp_path / "model.safetensors"))
    first, second = model(batch, ALL_TERMS), other(batch, ALL_TERMS)
    for name in ("itm", "irtm", "cla", "gen"):
        assert torch.equal(first[name], second[name])


def test_empty_label_set_is_refused():
    from mmkp.model.mmkp.model import MMKP

    from .conftest import tiny_config

    with pytest.raises(ValueError, match="needs training keyphrases"):
        MMKP(tiny_config(), vocab_size=VOCAB_SIZE, label_word_ids=torch.zeros(0, 2).long())


def test_losses_total_sums_present_terms():
    losses = Losses(itm=torch.tensor(1.5), cla=torch.tensor(0.25))
    assert losses.total.item() == 1.75
    assert math.isclose(Losses(gen=torch.tensor(2.0)).total.item(), 2.0)


def test_region_contrast_adds_to_l_irtm_and_prefers_the_own_text(batch):
    from mmkp.model.modules.region_filter import region_contrast_loss

    plain = tiny_model(seed=3)(batch, {"irtm"})["irtm"]
    contrast = tiny_model(seed=3, region_contrast=True)(batch, {"irtm"})["irtm"]
    assert contrast > plain  # softplus is positive
    own = torch.tensor([[0.0, 3.0], [1.0, 0.0]])
    other = torch.tensor([[2.0, 0.0], [0.0, 5.0]])
    expected = torch.nn.functional.softplus(torch.tensor([-1.0, 4.0])).mean()
    torch.testing.assert_close(
        region_contrast_loss(own, other, torch.tensor([True, True])), expected
    )
    rows = torch.tensor([True, False])
    torch.testing.assert_close(
        region_contrast_loss(own, other, rows), torch.nn.functional.softplus(torch.tensor(-1.0))
    )

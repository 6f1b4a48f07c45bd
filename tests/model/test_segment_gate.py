"""The image-text gate on X_T's OCR and entity tokens (model.modules.segment_gate, issue 24)."""

from __future__ import annotations

import math

import pytest
import torch

from mmkp.data.layout import TYPE_ENTITY, TYPE_OCR
from mmkp.model.modules.segment_gate import SegmentGate

from .conftest import make_batch, tiny_config, tiny_model

IMAGE_ROWS = [0, 2, 3]  # HAS_IMAGE in conftest: row 1 has no image


def _image_tokens(batch) -> torch.Tensor:
    """(B, L) bool: the OCR and entity tokens of X_T."""
    return (batch.src_types == TYPE_OCR) | (batch.src_types == TYPE_ENTITY)


@pytest.mark.parametrize("mode", ["score", "learned"])
def test_gate_touches_only_ocr_and_entity_tokens_of_rows_with_an_image(batch, mode):
    model = tiny_model(image_text_gate=mode).eval()
    encoded = model.encode(batch)
    plain = model.text_encoder(batch.src_ids, batch.src_types, batch.src_mask).memory
    gated = _image_tokens(batch) & batch.src_mask & batch.has_image[:, None]
    bias = encoded.source_bias
    assert bias.shape == batch.src_ids.shape
    assert (bias[gated] < 0).all() and (bias[~gated] == 0).all()
    torch.testing.assert_close(encoded.memory[~gated], plain[~gated])
    torch.testing.assert_close(encoded.memory[gated], plain[gated] * bias[gated, None].exp())


def test_learned_gate_starts_as_s_c(batch):
    model = tiny_model(image_text_gate="learned").eval()
    encoded = model.encode(batch)
    gated = _image_tokens(batch) & batch.src_mask & batch.has_image[:, None]
    rows = gated.nonzero()[:, 0]
    torch.testing.assert_close(encoded.source_bias[gated].exp(), encoded.match_score[rows])


def test_gate_is_none_by_default_and_then_changes_nothing(batch):
    assert tiny_config().image_text_gate == "none"
    model = tiny_model().eval()
    encoded = model.encode(batch)
    assert model.segment_gate is None and encoded.source_bias is None
    plain = model.text_encoder(batch.src_ids, batch.src_types, batch.src_mask)
    assert torch.equal(encoded.memory, plain.memory)
    assert model.init_decoder_state(batch, encoded).src_bias is None


@pytest.mark.parametrize("mode", ["score", "learned"])
def test_gradients_reach_the_gate(batch, mode):
    model = tiny_model(image_text_gate=mode)
    model(batch, {"itm", "irtm", "cla", "gen"}).total.backward()
    missing = [
        name for name, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0
    ]
    assert missing == []
    if mode == "learned":
        assert {name for name, _ in model.segment_gate.named_parameters()} == {
            "match_weight",
            "summary_weight",
            "bias",
        }


def test_unrelated_image_words_are_neither_attended_nor_copied():
    """s_c = 0 (a precomputed probability): the OCR and entity tokens of that row get no
    attention, hence no copy probability, and their encoder states are zeroed."""
    batch = make_batch()
    batch.match_prob = torch.tensor([0.0, math.nan, 1.0, math.nan])
    model = tiny_model(image_text_gate="score", match_source="precomputed").eval()
    encoded = model.encode(batch)
    state = model.init_decoder_state(batch, encoded)
    _, attention, _ = model._decode(batch.trg_in, state)  # (B, T, L)
    image_tokens = _image_tokens(batch) & batch.src_mask
    assert attention[0][:, image_tokens[0]].max() < 1e-5
    assert encoded.memory[0][image_tokens[0]].abs().max() < 1e-5
    # With s_c = 1 the same tokens keep their attention and states.
    assert attention[2][:, image_tokens[2]].sum(-1).min() > 1e-3
    plain = model.text_encoder(batch.src_ids, batch.src_types, batch.src_mask).memory
    torch.testing.assert_close(encoded.memory[2], plain[2], atol=1e-5, rtol=1e-5)


def test_gate_needs_s_c_and_a_known_mode():
    with pytest.raises(ValueError, match="image_text_gate='score' needs s_c"):
        tiny_config(image_text_gate="score", noise_filter=False)
    with pytest.raises(ValueError, match="image_text_gate must be one of"):
        tiny_config(image_text_gate="always")
    with pytest.raises(ValueError, match="image_text_gate must be one of"):
        SegmentGate(16, "none")


def test_gated_decoding_steps_equal_teacher_forcing_and_survive_reordering(batch):
    model = tiny_model(image_text_gate="learned").eval()
    encoded = model.encode(batch)
    forced = model.teacher_forced(batch, encoded)
    state = model.init_decoder_state(batch, encoded)
    assert torch.equal(state.src_bias, encoded.source_bias)
    beam = model.init_decoder_state(batch, encoded).reorder(torch.arange(4).repeat_interleave(2))
    for j in range(batch.trg_in.size(1)):
        log_probs, _, state = model.step(batch.trg_in[:, j], state)
        torch.testing.assert_close(log_probs, forced[:, j], atol=1e-5, rtol=1e-5)
        expanded, _, beam = model.step(batch.trg_in[:, j].repeat_interleave(2), beam)
        torch.testing.assert_close(expanded, log_probs.repeat_interleave(2, dim=0))


def test_gated_state_expanded_for_beams_gives_each_beam_its_source_bias(batch):
    model = tiny_model(image_text_gate="learned").eval()
    state = model.init_decoder_state(batch, model.encode(batch))
    tokens = batch.trg_in[:, 0]
    single, attention, _ = model.step(tokens, state)
    beams, beam_attention, _ = model.step(tokens.repeat_interleave(3), state.expand(3))
    torch.testing.assert_close(beams, single.repeat_interleave(3, dim=0))
    torch.testing.assert_close(beam_attention, attention.repeat_interleave(3, dim=0))

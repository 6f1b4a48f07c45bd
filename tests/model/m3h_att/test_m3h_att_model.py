"""M3H-ATT and M3H-ATT(TF) on tiny batches: shapes, where the attribute words go, gradients,
learning, and decoding steps that match teacher forcing."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from mmkp.data.layout import SEG
from mmkp.data.processor import TextProcessor
from mmkp.decoding.protocol import full_width
from mmkp.model.m3h_att import M3HAttConfig
from mmkp.model.m3h_att.fusion import split_source

from .conftest import OPTIONS, POSTS, make_batch, tiny_model, vocab_and_labels


def test_the_source_splits_into_text_and_attribute_words():
    batch = make_batch()
    vocab, labels = vocab_and_labels()
    tokens = TextProcessor(vocab, labels, OPTIONS).source(POSTS[0]).tokens
    third_seg = [i for i, token in enumerate(tokens) if token == SEG][2]
    parts = split_source(batch)
    assert parts.text_mask[0].nonzero().squeeze(1).tolist() == list(range(third_seg))
    assert parts.attribute_mask[0].nonzero().squeeze(1).tolist() == [
        third_seg + 1,
        third_seg + 2,
        third_seg + 3,
    ]  # people stage light
    assert not parts.attribute_mask[3].any()  # post 3 has no attribute words


def test_encode_shapes_and_the_text_memory_excludes_attributes(encoder):
    batch = make_batch()
    model = tiny_model(encoder=encoder).eval()
    encoded = model.encode(batch)
    rows, length = batch.src_ids.shape
    assert encoded.memory is not None and encoded.memory.shape == (rows, length, 16)
    assert encoded.fused is not None and encoded.fused.shape == (rows, 16)
    assert encoded.label_logits is not None and encoded.label_logits.shape == (rows, 4)
    parts = split_source(batch)
    assert torch.equal(encoded.src_mask, parts.text_mask)
    assert encoded.memory[parts.attribute_mask].abs().sum() == 0


def test_attribute_words_change_the_fusion_not_the_text_states(encoder):
    batch = make_batch()
    model = tiny_model(encoder=encoder).eval()
    parts = split_source(batch)
    swapped = batch.src_ids.masked_fill(parts.attribute_mask, batch.src_ids[0, 0].item())
    other = replace(batch, src_ids=swapped, src_ext_ids=swapped)
    with torch.no_grad():
        one, two = model.encode(batch), model.encode(other)
    assert torch.allclose(one.memory, two.memory, atol=1e-6)
    assert not torch.allclose(one.fused[0], two.fused[0])  # row 0 has attribute words


def test_a_row_without_image_or_attributes_queries_with_its_text():
    model = tiny_model()
    text = torch.randn(2, 16)
    words = torch.randn(2, 5, 8)
    no_attributes = torch.zeros(2, 5, dtype=torch.bool)
    assert torch.equal(model.fusion.query(text, None, words, no_attributes), text)
    one = no_attributes.clone()
    one[1, 2] = True
    query = model.fusion.query(text, None, words, one)
    assert torch.equal(query[0], text[0])
    assert torch.allclose(query[1], model.fusion.attribute(words[1, 2]))


def test_gradients_reach_every_parameter(encoder):
    model = tiny_model(encoder=encoder)
    model(make_batch(), ["cla", "gen"]).total.backward()
    missing = [
        name
        for name, param in model.named_parameters()
        if param.grad is None or not param.grad.abs().sum() > 0
    ]
    assert missing == []


def test_without_the_image_branch_there_is_no_image_encoder():
    model = tiny_model(use_image=False)
    assert model.image_encoder is None and model.inputs == frozenset({"text"})
    assert tiny_model().inputs == frozenset({"text", "grid"})


def test_the_loss_falls_on_a_tiny_batch(encoder):
    batch = make_batch()
    model = tiny_model(encoder=encoder)
    optimiser = torch.optim.Adam(model.parameters(), lr=0.01)
    first = None
    for _ in range(40):
        loss = model(batch, ["cla", "gen"]).total
        first = loss.item() if first is None else first
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    assert loss.item() < 0.3 * first


def test_decoding_steps_match_teacher_forcing_and_sum_to_one(encoder):
    batch = make_batch()
    model = tiny_model(encoder=encoder).eval()
    with torch.no_grad():
        encoded = model.encode(batch)
        forced = model.teacher_forced(batch, encoded)  # (B, T, V_ext)
        state = model.init_decoder_state(batch, encoded)
        stepped, attention = [], []
        for j in range(batch.trg_in.size(1)):
            log_probs, alpha, state = model.step(batch.trg_in[:, j], state)
            stepped.append(full_width(log_probs))
            attention.append(alpha)
    assert torch.allclose(forced, torch.stack(stepped, 1), atol=1e-5)
    assert torch.allclose(forced.exp().sum(-1), torch.ones(forced.shape[:2]), atol=1e-5)
    # The decoder attends (and copies from) the text only, never from the attribute words.
    alpha = torch.stack(attention, 1)  # (B, T, L)
    assert (alpha * split_source(batch).attribute_mask[:, None, :]).abs().sum() == 0


def test_beam_state_reorders_rows(encoder):
    batch = make_batch()
    model = tiny_model(encoder=encoder).eval()
    with torch.no_grad():
        state = model.init_decoder_state(batch, model.encode(batch))
        _, _, state = model.step(batch.trg_in[:, 0], state)
        moved = state.reorder(torch.tensor([2, 2, 0]))
        assert torch.equal(moved.hidden[0], state.hidden[2])
        assert torch.equal(moved.copy_ids[2], state.copy_ids[0])


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"hidden_size": 5, "num_heads": 4}, r"2 \* hidden_size \(10\) must be divisible by"),
        ({"decoder_layers": 0}, r"decoder_layers must be >= 1, got 0"),
        ({"name": "mmkp"}, r"M3HAttConfig is model 'm3h-att', got name 'mmkp'"),
    ],
)
def test_bad_settings_are_refused(settings, message):
    with pytest.raises(ValueError, match=message):
        M3HAttConfig(embeddings="random", **settings)

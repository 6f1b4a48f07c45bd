"""Each ablation switch changes the computation as docs/model.md says."""

from __future__ import annotations

import torch

from .conftest import MATCH_PROB, make_batch, tiny_model

ALL_TERMS = {"itm", "irtm", "cla", "gen"}


def test_full_model_filters_regions_by_sigmoid_of_a(batch):
    encoded = tiny_model().eval().encode(batch)
    gate = torch.sigmoid(encoded.region_scores[0]).unsqueeze(-1)
    torch.testing.assert_close(encoded.filtered[0], gate * encoded.regions[0])


def test_without_image_text_matching_there_is_no_s_c(batch):
    model = tiny_model(image_text_matching=False).eval()
    assert model.matcher is None and model.region_filter is not None
    encoded = model.encode(batch)
    assert encoded.match_score is None and encoded.match_logit is None
    expected = model.region_filter.scores(encoded.text, encoded.regions, None)
    torch.testing.assert_close(encoded.region_scores[0], expected[0])
    losses = model(batch, ALL_TERMS)
    assert losses.get("itm") is None and losses.get("irtm") is not None


def test_without_region_text_matching_s_c_scales_the_whole_image(batch):
    model = tiny_model(region_text_matching=False).eval()
    assert model.region_filter is None
    encoded = model.encode(batch)
    assert encoded.region_scores is None
    torch.testing.assert_close(
        encoded.filtered, encoded.match_score[:, None, None] * encoded.regions
    )
    losses = model(batch, ALL_TERMS)
    assert losses.get("irtm") is None and losses.get("itm") is not None


def test_without_noise_filter_regions_pass_unfiltered(batch):
    model = tiny_model(noise_filter=False).eval()
    assert model.matcher is None and model.region_filter is None
    encoded = model.encode(batch)
    assert encoded.match_score is None and encoded.region_scores is None
    assert torch.equal(encoded.filtered, encoded.regions)
    losses = model(batch, ALL_TERMS)
    assert (
        losses.get("itm") is None and losses.get("irtm") is None and losses.get("cla") is not None
    )


def test_text_only_model_ignores_the_image(batch):
    model = tiny_model(use_image=False).eval()
    assert model.image_encoder is None and model.classifier.block is None
    with_grid, without = model.encode(batch), model.encode(make_batch(with_grid=False))
    assert with_grid.regions is None and with_grid.match_score is None
    torch.testing.assert_close(with_grid.fused, without.fused)
    torch.testing.assert_close(with_grid.label_logits, without.label_logits)


def test_precomputed_match_probability_replaces_known_s_c(batch):
    learned = tiny_model(seed=3).eval().encode(batch)
    model = tiny_model(seed=3, match_source="precomputed").eval()
    encoded = model.encode(batch)
    assert encoded.match_score[0] == torch.tensor(MATCH_PROB[0])  # float32 0.9
    assert encoded.match_score[2] == torch.tensor(MATCH_PROB[2])
    assert encoded.match_score[1].item() == 0.0  # no image
    torch.testing.assert_close(encoded.match_score[3], learned.match_score[3])  # nan: the head
    # s_c enters A (J * s_c): another s_c gives other region scores.
    assert not torch.allclose(encoded.region_scores[0], learned.region_scores[0])
    torch.testing.assert_close(encoded.region_scores[3], learned.region_scores[3])


def test_without_classifier_copy_no_label_words_are_copied(batch):
    model = tiny_model(use_classifier_copy=False).eval()
    assert model.generator.copy_switch is None
    state = model.init_decoder_state(batch, model.encode(batch))
    assert state.copy_ids is None and state.copy_weights is None
    full = tiny_model().eval()
    full_state = full.init_decoder_state(batch, full.encode(batch))
    assert full_state.copy_ids.shape == (4, 3 * 3)  # top-3 labels x 3 words
    torch.testing.assert_close(full_state.copy_weights.sum(-1), torch.ones(4))

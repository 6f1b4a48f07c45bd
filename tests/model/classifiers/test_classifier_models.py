"""The classification baselines (avg, max, vgg, co-att, ban) as family members: shapes,
L_cla, gradients, masking, label ranking, save/load."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from mmkp.data.processor import TextOptions
from mmkp.data.vocab import SPECIALS, LabelSet, Vocab
from mmkp.decoding.config import DecodeConfig
from mmkp.decoding.heads import predict_keyphrases
from mmkp.inference.checkpoint import InferenceConfig, load_checkpoint, save_checkpoint
from mmkp.model.classifiers import AvgConfig, BanConfig, VggConfig
from mmkp.model.protocol import INPUT_GRID, INPUT_TEXT
from mmkp.model.registry import build_model

from ..conftest import VOCAB_SIZE
from .conftest import NAMES, NUM_LABELS, labelled_batch, tiny_classifier

INPUTS = {
    "avg": {INPUT_TEXT},
    "max": {INPUT_TEXT},
    "vgg": {INPUT_GRID},
    "co-att": {INPUT_TEXT, INPUT_GRID},
    "ban": {INPUT_TEXT, INPUT_GRID},
}


@pytest.mark.parametrize("name", NAMES)
def test_a_member_is_a_classifier_without_a_generator(name, labelled):
    model = tiny_classifier(name).eval()
    assert (model.has_generator, model.has_classifier) == (False, True)
    assert model.inputs == INPUTS[name]
    assert model.encode(labelled).label_logits.shape == (4, NUM_LABELS)
    assert set(model(labelled, ["cla"])) == {"cla"}
    assert model(labelled, []) == {}
    with pytest.raises(ValueError, match=r"unknown loss terms \['gen'\]"):
        model(labelled, ["gen"])
    with pytest.raises(TypeError, match=f"model '{name}' is a classifier"):
        model.init_decoder_state(labelled, model.encode(labelled))


@pytest.mark.parametrize("name", NAMES)
def test_l_cla_reaches_every_parameter_and_falls_on_a_tiny_batch(name, labelled):
    model = tiny_classifier(name)
    model(labelled, ["cla"]).total.backward()
    silent = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.any()]
    assert silent == []
    # A member builds only what it reads: VGG has no text encoder.
    has_text_encoder = any(n == "text_encoder" for n, _ in model.named_children())
    assert has_text_encoder == (INPUT_TEXT in model.inputs)

    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    losses = []
    for _ in range(30):
        optimizer.zero_grad()
        loss = model(labelled, ["cla"]).total
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.2 * losses[0], losses[::5]


def test_rows_without_a_label_do_not_count():
    batch = labelled_batch()
    model = tiny_classifier("max")
    only_first = replace(batch, label=torch.tensor([0, -100, -100, -100]))
    expected = torch.nn.functional.cross_entropy(
        model.encode(batch).label_logits[:1], batch.label[:1]
    )
    assert torch.allclose(model(only_first, ["cla"])["cla"], expected)
    unlabelled = replace(batch, label=torch.full((4,), -100))
    assert model(unlabelled, ["cla"])["cla"].item() == 0.0


@pytest.mark.parametrize("name", NAMES)
def test_padding_and_the_grid_of_an_image_less_row_change_nothing(name):
    batch = labelled_batch()
    model = tiny_classifier(name).eval()
    logits = model.encode(batch).label_logits
    wider = replace(
        batch,
        src_ids=torch.nn.functional.pad(batch.src_ids, (0, 3)),
        src_types=torch.nn.functional.pad(batch.src_types, (0, 3)),
        src_mask=torch.nn.functional.pad(batch.src_mask, (0, 3)),
    )
    assert torch.allclose(model.encode(wider).label_logits, logits, atol=1e-6)
    noisy = batch.grid.clone()
    noisy[1] = 5.0  # row 1 has no image: its grid must be ignored
    assert torch.equal(model.encode(replace(batch, grid=noisy)).label_logits, logits)


@pytest.mark.parametrize("name", ["vgg", "co-att", "ban"])
def test_a_batch_without_grids_is_read_as_posts_without_images(name):
    model = tiny_classifier(name).eval()
    with_grids = model.encode(labelled_batch()).label_logits
    without = model.encode(labelled_batch(with_grid=False)).label_logits
    assert torch.allclose(without[1], with_grids[1], atol=1e-6)  # row 1 has no image anyway
    if name == "vgg":  # no image, no evidence: every row gets the label prior (the bias)
        assert torch.allclose(without, model.classifier[1].bias.expand(4, -1))


def test_avg_and_max_pool_the_same_states_differently(labelled):
    avg, max_ = tiny_classifier("avg"), tiny_classifier("max")
    max_.load_state_dict(avg.state_dict())  # the same weights: only the pooling differs
    states = avg.text_encoder(labelled.src_ids, labelled.src_types, labelled.src_mask).memory
    mask = labelled.src_mask.unsqueeze(-1)
    mean = (states * mask).sum(1) / mask.sum(1)
    highest = states.masked_fill(~mask, float("-inf")).max(dim=1).values
    avg_logits, max_logits = avg.encode(labelled).label_logits, max_.encode(labelled).label_logits
    assert torch.allclose(avg_logits, avg.classifier(mean), atol=1e-6)
    assert torch.allclose(max_logits, avg.classifier(highest), atol=1e-6)


@pytest.mark.parametrize("pooling", ["mean", "max", "attention"])
def test_vgg_pools_the_projected_regions(pooling, labelled):
    model = tiny_classifier("vgg", pooling=pooling).eval()
    regions = model.image_encoder(labelled.grid, labelled.has_image).regions  # (B, 49, d)
    logits = model.encode(labelled).label_logits
    if pooling == "mean":
        expected = regions.mean(dim=1)
    elif pooling == "max":
        expected = regions.max(dim=1).values * labelled.has_image[:, None]
    else:
        expected, weights = model.pool(
            model.query.expand(4, -1), regions, labelled.has_image[:, None].expand(-1, 49)
        )
        assert torch.allclose(weights.sum(-1), labelled.has_image.float())
    assert torch.allclose(logits, model.classifier(expected), atol=1e-6)


def test_ban_maps_spread_over_the_real_token_region_pairs(labelled):
    model = tiny_classifier("ban").eval()
    text = model.text_encoder(labelled.src_ids, labelled.src_types, labelled.src_mask)
    image = model.image_encoder(labelled.grid, labelled.has_image)
    maps = model.attention(text.memory, labelled.src_mask, image.regions, image.mask)
    assert maps.shape == (4, 2, labelled.src_ids.size(1), 49)
    totals = maps.sum(dim=(-1, -2))  # (B, G): one distribution per row and glimpse
    assert torch.allclose(totals, labelled.has_image.float()[:, None].expand(-1, 2))
    padded = ~labelled.src_mask  # (B, L)
    assert maps.permute(0, 2, 1, 3)[padded].abs().sum() == 0
    # Without an image the glimpses add nothing: h is the sum of the row's H_T.
    row = text.memory[1][labelled.src_mask[1]].sum(dim=0)
    assert torch.allclose(model.encode(labelled).label_logits[1], model.classifier(row), atol=1e-5)


def test_configs_check_their_name_and_sizes_and_image_models_need_grids():
    with pytest.raises(ValueError, match="AvgConfig is model 'avg', got name 'max'"):
        AvgConfig(name="max")
    with pytest.raises(ValueError, match="glimpses and rank must be >= 1"):
        BanConfig(glimpses=0)
    with pytest.raises(ValueError, match="image_dim must be >= 1"):
        VggConfig(image_dim=0)
    assert AvgConfig().unused_terms(("cla",), images=False) == {}
    why = VggConfig().unused_terms(("cla",), images=False)["cla"]
    assert "model 'vgg' reads image grids and the data has none" in why
    assert BanConfig().unused_terms(("cla",), images=True) == {}


def test_an_empty_label_set_is_refused():
    with pytest.raises(ValueError, match="label set is empty"):
        build_model(
            AvgConfig(embeddings="random", emb_size=8, hidden_size=4), _vocab(), LabelSet([])
        )


def _vocab() -> Vocab:
    return Vocab([*SPECIALS, *(f"w{i}" for i in range(VOCAB_SIZE - len(SPECIALS)))])


LABELS = LabelSet([f"label {i}" for i in range(NUM_LABELS)])


@pytest.mark.parametrize("name", NAMES)
def test_save_load_gives_identical_ranked_labels(name, labelled, tmp_path):
    model = tiny_classifier(name)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(3):  # trained weights, not the initial ones
        optimizer.zero_grad()
        model(labelled, ["cla"]).total.backward()
        optimizer.step()
    model.eval()
    decode = DecodeConfig(top_k=3)
    config = InferenceConfig(model=model.config, text=TextOptions(), decode=decode)
    save_checkpoint(tmp_path / "m", model=model, vocab=_vocab(), labels=LABELS, config=config)
    loaded = load_checkpoint(tmp_path / "m")
    assert type(loaded.model) is type(model) and loaded.model.config == model.config
    assert torch.equal(
        loaded.model.encode(labelled).label_logits, model.encode(labelled).label_logits
    )
    ranked = predict_keyphrases(loaded.model, labelled, _vocab(), LABELS, decode)
    logits = model.encode(labelled).label_logits
    for row, scored in zip(logits, ranked, strict=True):
        assert [kp.text for kp in scored] == [LABELS.keyphrase(i) for i in row.topk(3).indices]
        assert all(kp.score <= 0 for kp in scored)

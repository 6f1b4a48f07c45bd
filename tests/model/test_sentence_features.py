"""model.sentence_features (beyond the paper): a frozen MiniLM embedding added to H_f through a
zero-initialised projection, so a new model starts exactly as the paper's."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from mmkp.data.batch import Batch
from mmkp.features.sentence_encoder import DIM
from mmkp.model.mmkp.config import MMKPConfig
from mmkp.model.protocol import INPUT_SENTENCE

from .conftest import TINY_SIZES, make_batch, tiny_model

TERMS = ("itm", "irtm", "cla", "gen")


def with_sentences(batch: Batch, seed: int = 0) -> Batch:
    """The batch with unit-length (B, 384) rows, as `sentence_embed` returns them."""
    generator = torch.Generator().manual_seed(seed)
    rows = torch.randn(batch.size, DIM, generator=generator)
    return dataclasses.replace(batch, sentence=rows / rows.norm(dim=1, keepdim=True))


@pytest.mark.parametrize("which", ["post", "source"])
def test_the_zero_projection_starts_from_the_baseline_model_exactly(which):
    baseline, model = tiny_model(seed=3), tiny_model(seed=3, sentence_features=which)
    shared = baseline.state_dict()
    own = model.state_dict()
    assert set(own) - set(shared) == {
        "sentence_projection.linear.weight",
        "sentence_projection.linear.bias",
    }
    assert all(torch.equal(own[name], tensor) for name, tensor in shared.items())  # one seed
    batch = with_sentences(make_batch())
    plain, fused = baseline.encode(make_batch()), model.encode(batch)
    assert plain.fused is not None and plain.label_logits is not None
    assert torch.equal(fused.fused, plain.fused)
    assert torch.equal(fused.label_logits, plain.label_logits)
    expected, got = baseline(make_batch(), TERMS), model(batch, TERMS)
    assert set(got) == set(expected) == set(TERMS)
    for term in TERMS:
        assert torch.equal(got[term], expected[term]), term


def test_one_step_trains_the_projection_and_changes_h_f():
    model = tiny_model(seed=3, sentence_features="post")
    batch = with_sentences(make_batch())
    before = model.encode(batch).fused
    model(batch, TERMS).total.backward()
    projection = model.sentence_projection
    assert projection is not None
    assert projection.linear.weight.grad is not None and projection.linear.bias.grad is not None
    assert projection.linear.weight.grad.abs().sum() > 0
    torch.optim.SGD(model.parameters(), lr=0.1).step()
    assert projection.linear.weight.abs().sum() > 0
    assert not torch.equal(model.encode(batch).fused, before)


def test_the_model_declares_the_input_and_refuses_a_batch_without_it():
    assert INPUT_SENTENCE not in tiny_model().inputs
    model = tiny_model(sentence_features="post")
    assert INPUT_SENTENCE in model.inputs
    with pytest.raises(ValueError, match=r"^the model adds the posts' MiniLM .* batch has none"):
        model.encode(make_batch())


def test_the_option_needs_h_f_and_a_known_text():
    base = {**TINY_SIZES, "use_cla_loss": False}
    with pytest.raises(
        ValueError, match=r"sentence_features='post' is added to H_f.*use_classifier_copy"
    ):
        MMKPConfig(**base, sentence_features="post")  # type: ignore[arg-type]
    kept = MMKPConfig(**base, use_classifier_copy=True, sentence_features="source")  # type: ignore[arg-type]
    assert kept.sentence_input == "source"
    with pytest.raises(ValueError, match=r"sentence_features must be one of .* got 'image'"):
        MMKPConfig(**TINY_SIZES, sentence_features="image")  # type: ignore[arg-type]
    assert MMKPConfig(**TINY_SIZES).sentence_input is None  # type: ignore[arg-type]

"""Ensembles of tiny random checkpoints: one model or the same model twice decode exactly as
the model alone, two models step the mean of their log-probabilities, mismatched
directories are refused in one line naming the one that differs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from mmkp.cli.main import main
from mmkp.data.vocab import BOS_ID
from mmkp.decoding.ensemble import Ensemble
from mmkp.decoding.protocol import full_width
from mmkp.inference.predictor import Predictor

from .conftest import save_tiny_checkpoint
from .test_predictor import POSTS, grid


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Every test here runs on one torch thread (see tests/conftest.py)."""


@pytest.fixture(scope="module")
def other_dir(tmp_path_factory) -> Path:
    """A second tiny model of the same vocabulary and labels, other weights (seed 1)."""
    return save_tiny_checkpoint(tmp_path_factory.mktemp("seed1") / "model", seed=1)


def results(predictor: Predictor) -> list[tuple]:
    """Every output of the posts, exactly (keyphrases with scores, s_c, A)."""
    out = []
    for r in predictor.predict_many(POSTS, batch_size=3, grid_lookup=grid):
        region = None if r.region_scores is None else r.region_scores.tolist()
        out.append((r.id, [(kp.text, kp.score) for kp in r.keyphrases], r.match_score, region))
    return out


def test_an_ensemble_of_one_model_is_the_model(checkpoint_dir):
    alone = results(Predictor.load(checkpoint_dir))
    assert results(Predictor.load([checkpoint_dir])) == alone
    wrapped = Predictor.load(checkpoint_dir)
    wrapped.model = Ensemble([wrapped.model])  # the ensemble's code path, one member
    assert results(wrapped) == alone


def test_the_same_model_twice_gives_the_models_keyphrases_and_scores(checkpoint_dir):
    twice = Predictor.load([checkpoint_dir, checkpoint_dir])
    assert isinstance(twice.model, Ensemble) and len(twice.members) == 2
    assert results(twice) == results(Predictor.load(checkpoint_dir))


def test_two_models_step_the_mean_of_their_log_probs(checkpoint_dir, other_dir):
    ensemble = Predictor.load([checkpoint_dir, other_dir])
    members = [Predictor.load(checkpoint_dir).model, Predictor.load(other_dir).model]
    (_, batch), *_ = ensemble.processor.batches(POSTS, 4, grid_lookup=grid)
    tokens = torch.full((batch.size,), BOS_ID)
    with torch.no_grad():
        encoded = ensemble.model.encode(batch)
        log_probs, attention, _ = ensemble.model.step(
            tokens, ensemble.model.init_decoder_state(batch, encoded)
        )
        alone = [m.step(tokens, m.init_decoder_state(batch, m.encode(batch))) for m in members]
        alone = [(full_width(log_probs), *rest) for log_probs, *rest in alone]
    torch.testing.assert_close(log_probs, (alone[0][0] + alone[1][0]) / 2)
    torch.testing.assert_close(attention, (alone[0][1] + alone[1][1]) / 2)
    assert not torch.equal(alone[0][0], alone[1][0])  # the members do differ
    # the classifier head: the mean of the members' log-softmax over the labels
    with torch.no_grad():
        logits = [torch.log_softmax(m.encode(batch).label_logits, -1) for m in members]
    torch.testing.assert_close(encoded.label_logits, (logits[0] + logits[1]) / 2)
    assert all(1 <= len(r.keyphrases) <= 3 for r in ensemble.predict_many(POSTS, grid_lookup=grid))


def test_a_member_with_another_vocabulary_is_refused_in_one_line(checkpoint_dir, tmp_path, capsys):
    other = tmp_path / "other"
    shutil.copytree(checkpoint_dir, other)
    vocab = json.loads((other / "vocab.json").read_text())
    vocab["words"][-2:] = vocab["words"][-1:-3:-1]  # same size, so the weights still fit
    (other / "vocab.json").write_text(json.dumps(vocab))
    with pytest.raises(ValueError, match=rf"^{other}: its vocabulary \(vocab.json\) differs"):
        Predictor.load([checkpoint_dir, other])
    assert main(["predict", "--model", str(checkpoint_dir), "--model", str(other), "--text", "hi"])
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{other}: its vocabulary (vocab.json) differs from" in err


def test_predict_cli_with_the_same_model_twice_writes_the_models_file(checkpoint_dir, tmp_path):
    posts = tmp_path / "posts.jsonl"
    posts.write_text("".join(json.dumps({"id": p.id, "text": p.text}) + "\n" for p in POSTS))
    model = ["--model", str(checkpoint_dir)]
    for name, models in (("one", model), ("two", model * 2)):
        args = ["predict", *models, "--input", str(posts), "--out", str(tmp_path / f"{name}.jsonl")]
        assert main(args) == 0
    assert (tmp_path / "one.jsonl").read_bytes() == (tmp_path / "two.jsonl").read_bytes()

"""The prediction API on a tiny random checkpoint: raw text normalised, batched = single,
diagnostics (s_c and the 7x7 A) only with an image, input checks."""

from __future__ import annotations

import tempfile

import numpy as np
import pytest
from PIL import Image

from mmkp.data.record import Entity, Post
from mmkp.data.tokenize import normalise
from mmkp.decoding.config import DecodeConfig
from mmkp.features.featurizer import ImageFeatures
from mmkp.features.ocr import OcrResult
from mmkp.inference.predictor import Predictor

from .conftest import IMAGE_DIM, save_tiny_checkpoint

POSTS = [
    Post("a", "the kca awards in london", image="a.jpg", ocr="kids", entities=[Entity("crowd")]),
    Post("b", "rain"),
    Post("c", "new phone , who dis ? so excited for tonight in london town", image="c.jpg"),
    Post("d", "zorblax awards"),
]


def grid(post_id: str) -> np.ndarray | None:
    if post_id == "b" or post_id == "d":
        return None
    return np.random.default_rng(len(post_id) + ord(post_id[0])).normal(size=(49, IMAGE_DIM))


class FixedFeaturizer:
    """A featurizer returning fixed OCR, entities and grid (records what it was asked)."""

    def __init__(self) -> None:
        self.calls: list[tuple[object, bool]] = []

    def load(self, image: object) -> object:
        return image  # stands for the decoded image

    def featurize(self, images: list[object], *, grid: bool = True) -> list[ImageFeatures]:
        return [self.featurize_one(image, grid=grid) for image in images]

    def featurize_one(self, image: object, *, grid: bool = True) -> ImageFeatures:
        self.calls.append((image, grid))
        features = np.random.default_rng(0).normal(size=(49, IMAGE_DIM)) if grid else None
        return ImageFeatures(OcrResult("kids choice", ()), [Entity("stage", 0.9)], features, [])


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Every test here runs on one torch thread (see tests/conftest.py)."""


def texts(results) -> list[list[str]]:
    return [r.texts for r in results]


def test_predict_normalises_raw_text_and_has_no_diagnostics_without_image(checkpoint_dir):
    predictor = Predictor.load(checkpoint_dir)
    raw = "So EXCITED for the #KidsChoice awards tonight!!! https://t.co/x"
    result = predictor.predict(raw)
    assert (
        result.post.text
        == normalise(raw)
        == "so excited for the kids choice awards tonight ! <url>"
    )
    assert result.id == "input"
    assert 1 <= len(result.keyphrases) <= 3 and len(set(result.texts)) == len(result.texts)
    assert result.match_score is None and result.region_scores is None
    (same,) = predictor.predict_many([Post("input", normalise(raw))])
    assert same.keyphrases == result.keyphrases


def test_predict_many_batched_equals_one_at_a_time_in_input_order(checkpoint_dir):
    predictor = Predictor.load(checkpoint_dir)
    batched = list(predictor.predict_many(iter(POSTS), batch_size=3, grid_lookup=grid))
    alone = [next(predictor.predict_many([post], grid_lookup=grid)) for post in POSTS]
    assert [r.id for r in batched] == ["a", "b", "c", "d"]
    assert texts(batched) == texts(alone)
    assert [kp.score for r in batched for kp in r.keyphrases] == pytest.approx(
        [kp.score for r in alone for kp in r.keyphrases], abs=1e-5
    )
    for result, single in zip(batched, alone, strict=True):
        assert (result.match_score is None) == (grid(result.id) is None)
        if result.match_score is not None:
            assert 0.0 <= result.match_score <= 1.0
            assert result.match_score == pytest.approx(single.match_score, abs=1e-6)
            assert result.region_scores.shape == (7, 7)
            np.testing.assert_allclose(result.region_scores, single.region_scores, atol=1e-6)


def test_predict_with_an_image_uses_the_featurizer_and_reports_s_c_and_a(checkpoint_dir):
    featurizer = FixedFeaturizer()
    predictor = Predictor.load(checkpoint_dir, featurizer=featurizer)  # type: ignore[arg-type]
    result = predictor.predict("the KCA awards", image="photo.jpg")
    assert featurizer.calls == [("photo.jpg", True)]
    assert result.post.ocr == "kids choice" and result.post.entity_names == ["stage"]
    assert result.region_scores.shape == (7, 7) and 0.0 <= result.match_score <= 1.0
    features = featurizer.featurize_one("photo.jpg", grid=True).grid
    (same,) = predictor.predict_many([result.post], grid_lookup={"input": features}.get)
    assert same.texts == result.texts and same.match_score == pytest.approx(result.match_score)
    assert result.to_dict()["region_scores"] == result.region_scores.tolist()


def test_decode_settings_can_be_overridden(checkpoint_dir):
    greedy = Predictor.load(checkpoint_dir, decode=DecodeConfig(strategy="greedy"))
    assert [len(r.keyphrases) for r in greedy.predict_many(POSTS)] == [1, 1, 1, 1]


def test_bad_inputs_are_reported(checkpoint_dir, tmp_path):
    predictor = Predictor.load(checkpoint_dir)
    with pytest.raises(ValueError, match=r"image .*missing\.jpg: file not found"):
        predictor.predict("hello", image=tmp_path / "missing.jpg")
    with pytest.raises(ValueError, match="has no words after normalisation"):
        predictor.predict("   ")
    with pytest.raises(ValueError, match="batch_size must be >= 1, got 0"):
        predictor.predict_many(POSTS, batch_size=0)
    with pytest.raises(FileNotFoundError, match="not a checkpoint directory"):
        Predictor.load(tmp_path)


def test_a_real_photo_goes_through_the_training_preparation(checkpoint_dir, tmp_path, monkeypatch):
    from skimage import data  # sample photos shipped in the scikit-image wheel

    photo = tmp_path / "astronaut.jpg"
    Image.fromarray(data.astronaut()).save(photo)
    predictor = Predictor.load(checkpoint_dir)
    work, scratch = tmp_path / "cwd", tmp_path / "tmp"
    work.mkdir(), scratch.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # where a temporary file would go
    before = sorted(tmp_path.rglob("*"))
    result = predictor.predict("first day at work", image=photo)
    assert sorted(tmp_path.rglob("*")) == before  # featurized in memory: no file written
    assert result.post.extra["has_image"] is True
    assert 1 <= len(result.post.entities) <= 5  # the local ImageNet classifier's top classes
    assert result.region_scores.shape == (7, 7) and 0.0 <= result.match_score <= 1.0
    assert predictor.featurizer.config.backbone == "efficientnet-lite0"
    again = predictor.predict("first day at work", image=photo.read_bytes())
    assert again.texts == result.texts and again.post.entities == result.post.entities
    with Image.open(photo) as image:
        assert predictor.predict("first day at work", image=image.copy()).texts == result.texts


def test_a_model_whose_backbone_cannot_be_told_is_an_error(tmp_path):
    predictor = Predictor.load(save_tiny_checkpoint(tmp_path / "m", image_dim=12))
    with pytest.raises(ValueError, match="reads 12-channel grids but its training feature store"):
        predictor.predict("hello", image=tmp_path / "a.jpg")

"""The predictor's request path the service decodes with: raw posts featurized in memory and
decoded together, a bad post failing alone, text without words refused, the diagnostics
(sigmoid(A), OCR lines, entities) that the API, `explain` and notebooks read."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from PIL import Image

from mmkp.data.record import Entity
from mmkp.features.featurizer import ImageFeatures
from mmkp.features.ocr import OcrLine, OcrResult
from mmkp.inference.predictor import Predictor, PreparedPost, RawPost

from .conftest import png_bytes

BOX = ((10.0, 20.0), (90.0, 20.0), (90.0, 50.0), (10.0, 50.0))


class FixedFeaturizer:
    """Fixed OCR lines, entities and a grid per image; records each batch it featurizes."""

    def __init__(self) -> None:
        self.batches: list[int] = []

    def load(self, image):
        if image == b"broken":
            raise ValueError("unreadable")
        return Image.new("RGB", (64, 48))

    def featurize(self, images, *, grid: bool = True):
        self.batches.append(len(images))
        lines = (OcrLine("GAME DAY", 0.99, BOX), OcrLine("x", 0.3, BOX))
        features = np.random.default_rng(0).normal(size=(49, 1280)).astype(np.float16)
        return [ImageFeatures(OcrResult("game day", lines), [Entity("stage", 0.7)], features, [])
                for _ in images]  # fmt: skip


@pytest.mark.parametrize("text", ["!!! ???", "   ", "", "... -- ::", "😀😀"])
def test_text_without_words_is_refused_like_empty_text(tiny: Predictor, text):
    with pytest.raises(ValueError, match="has no words after normalisation"):
        tiny.predict(text)
    (refused,) = tiny.predict_batch([RawPost(text)])
    assert isinstance(refused, ValueError) and "has no words after normalisation" in str(refused)


def test_predict_batch_equals_predict_and_a_bad_post_fails_alone(tiny: Predictor, tmp_path):
    photo = png_bytes(Image.new("RGB", (64, 48), "white"))
    posts = [RawPost("the kca awards", photo, id="a"), RawPost("?!", id="b"),
             RawPost("rain in london", tmp_path / "missing.png", id="c"),
             RawPost("new phone", id="a")]  # fmt: skip
    results = tiny.predict_batch(posts)
    assert [type(r).__name__ for r in results] == [
        "PredictionResult", "ValueError", "ValueError", "PredictionResult"]  # fmt: skip
    assert "missing.png: file not found" in str(results[2]) and str(results[2]).startswith("image")
    first, last = results[0], results[3]
    assert first.id == last.id == "a"  # ids need not be distinct: grids are matched by place
    alone = tiny.predict("the kca awards", image=photo)
    assert first.texts == alone.texts and first.match_score == pytest.approx(alone.match_score)
    assert last.texts == tiny.predict("new phone").texts and last.region_scores is None


def test_images_of_a_batch_are_featurized_together_and_diagnostics_filled(tiny_dir):
    featurizer = FixedFeaturizer()
    predictor = Predictor.load(tiny_dir, featurizer=featurizer)  # type: ignore[arg-type]
    results = predictor.predict_batch(
        [RawPost("one", b"a"), RawPost("two"), RawPost("three", b"b")]
    )
    assert featurizer.batches == [2]  # one CNN pass for both images
    result = results[0]
    assert result.regions.shape == (7, 7)
    np.testing.assert_allclose(result.regions, 1 / (1 + np.exp(-result.region_scores)), rtol=1e-6)
    assert result.ocr == [OcrLine("GAME DAY", 0.99, BOX), OcrLine("x", 0.3, BOX)]
    assert result.entities == [Entity("stage", 0.7)] and result.post.ocr == "game day"
    assert results[1].ocr == [] and results[1].regions is None
    full = result.to_dict(diagnostics=True)
    assert full["regions"] == result.regions.tolist() and full["ocr"][0]["text"] == "GAME DAY"
    assert full["entities"] == [{"name": "stage", "score": 0.7}]
    assert set(result.to_dict()) == {"id", "keyphrases", "scores", "match_score", "region_scores"}
    broken, fine = predictor.predict_batch([RawPost("one", b"broken"), RawPost("two", b"a")])
    assert isinstance(broken, ValueError) and str(broken) == "unreadable" and fine.ocr


def test_decode_settings_per_call_and_prepared_posts(tiny: Predictor):
    (prepared,) = tiny.prepare([RawPost("So EXCITED for the #KCA")])
    assert isinstance(prepared, PreparedPost) and prepared.post.text == "so excited for the kca"
    (one,) = tiny.decode_prepared([prepared], decode=dataclasses.replace(tiny.decode, top_k=1))
    (default,) = tiny.decode_prepared([prepared])
    assert len(one.keyphrases) == 1 and len(default.keyphrases) == tiny.decode.top_k == 3
    assert one.keyphrases[0] == default.keyphrases[0]
    assert tiny.decode_prepared([]) == []

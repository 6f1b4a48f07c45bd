"""The built-in zero-shot model: candidates, and predictions through `Predictor.load` and the
CLI with the real offline MiniLM (no network, no model directory), against a golden output."""

from __future__ import annotations

import json

import pytest
import torch

from mmkp.cli.main import main
from mmkp.data.record import Entity, Post
from mmkp.inference.checkpoint import check_checkpoint
from mmkp.inference.predictor import Predictor, RawPost
from mmkp.inference.zero_shot import ZERO_SHOT, ZeroShotConfig, ZeroShotPredictor
from mmkp.inference.zero_shot.candidates import ENTITY, HASHTAG, OCR, TEXT, candidates
from mmkp.inference.zero_shot.predictor import hashtags

from .test_predictor import FixedFeaturizer

POST = "Cristiano Ronaldo scores again for Real Madrid in the Champions League! #UCL"
# The golden output of POST (MiniLM on CPU, the default weights); scores to 1e-4.
GOLDEN = [
    ("ucl", 2.1564),
    ("cristiano", 1.2578),
    ("ronaldo", 1.1488),
    ("cristiano ronaldo", 1.0710),
    ("ronaldo scores", 1.0181),
]


@pytest.fixture(scope="module")
def predictor() -> Predictor:
    return Predictor.load(ZERO_SHOT)


def test_candidates_are_short_runs_of_words_from_every_source():
    post = Post(
        "p",
        "the 2 1 st game day at anfield ! <number> fans of liverpool",
        ocr="you will never walk home",
        entities=[Entity("stadium (sports)"), Entity("hollywood, los angeles")],
        extra={"hashtags": ["ynwa", "<number>"]},
    )
    found = {c.text: c for c in candidates(post, max_words=2)}
    assert set(found) == {
        "game", "game day", "day", "anfield", "fans", "liverpool",  # never across `!`, `<number>`
        "ynwa", "walk", "walk home", "home", "stadium", "hollywood",
    }  # fmt: skip
    assert "fans of" not in found and "1 st" not in found  # stop word ends; ordinal pieces
    assert found["ynwa"].sources == {HASHTAG}
    assert found["walk home"].sources == {OCR}
    assert found["stadium"].sources == {ENTITY}
    assert found["game"].sources == {TEXT}
    assert found["game"].first == 4 / 13 and found["ynwa"].first == 1.0


def test_hashtags_of_raw_text_are_normalised_like_the_dataset():
    assert hashtags("Go #SaveHakeem! #1 fans #KCA2019, a#b") == ["save hakeem", "kca <number>"]


def test_config_needs_one_length_weight_per_phrase_length():
    with pytest.raises(ValueError, match=r"one weight per phrase length 1\.\.2, got 3"):
        ZeroShotConfig(max_words=2)


def test_load_reserved_name_gives_the_zero_shot_model(predictor: Predictor):
    assert isinstance(predictor, ZeroShotPredictor)
    assert predictor.checkpoint.config.model.name == ZERO_SHOT
    assert check_checkpoint(ZERO_SHOT) == predictor.checkpoint.config  # `mmkp serve` checks
    assert not predictor.uses_image  # OCR and entities from an image, never a grid


def test_golden_output(predictor: Predictor):
    result = predictor.predict(POST)
    assert result.texts == [text for text, _ in GOLDEN]
    assert [kp.score for kp in result.keyphrases] == pytest.approx(
        [score for _, score in GOLDEN], abs=1e-4
    )
    scores = [kp.score for kp in result.keyphrases]
    assert scores == sorted(scores, reverse=True)  # best first
    assert result.match_score is None and result.region_scores is None


def test_bf16_ranks_with_the_models_own_encoder_and_fp32_gives_the_golden_output_again():
    predictor = Predictor.load(ZERO_SHOT)  # its own: the module's fixture stays fp32
    predictor.use_minilm_precision("bf16")
    model = predictor.model
    assert model.encoder.precision == "bf16" and model.minilm is model.encoder.load()
    assert model.minilm.layers[0].query.weight.dtype == torch.bfloat16
    result = predictor.predict(POST)
    assert result.texts[0] == "ucl"  # bf16 moves scores by about 1e-3 (not golden)
    assert [kp.score for kp in result.keyphrases] == pytest.approx(
        [score for _, score in GOLDEN[: len(result.keyphrases)]], abs=0.05
    )
    predictor.use_minilm_precision("fp32")
    assert model.minilm is model.encoder.load()  # the reloaded module is the submodule
    assert model.minilm.layers[0].query.weight.dtype == torch.float32
    again = predictor.predict(POST)
    assert [(kp.text, round(kp.score, 4)) for kp in again.keyphrases] == GOLDEN


def test_batch_top_k_and_refused_text(predictor: Predictor):
    from mmkp.decoding.config import DecodeConfig

    first, refused = predictor.predict_batch(
        [RawPost(POST), RawPost("!!! ???")], decode=DecodeConfig(top_k=2)
    )
    assert first.texts == ["ucl", "cristiano"]
    assert isinstance(refused, ValueError) and "no words" in str(refused)


def test_image_gives_ocr_and_entities_without_a_grid():
    featurizer = FixedFeaturizer()
    predictor = ZeroShotPredictor.build(featurizer=featurizer)  # type: ignore[arg-type]
    result = predictor.predict("look at this", image="photo.jpg")
    assert featurizer.calls == [("photo.jpg", False)]
    assert result.post.ocr == "kids choice"
    assert {"kids choice", "stage"} & set(result.texts)


def test_cli_predict_text(capsys: pytest.CaptureFixture[str]):
    assert main(["predict", "--model", ZERO_SHOT, "--text", POST, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["keyphrases"] == [text for text, _ in GOLDEN]

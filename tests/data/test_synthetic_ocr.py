"""Text rendered into generated images is read back exactly by the real OCR engine (rapidocr)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mmkp.data.jsonl import read_posts
from mmkp.data.synthetic import generate

SCORE_THRESHOLD = 0.8  # the image pipeline's default (issue 3)


def read_text(engine, image: Path) -> tuple[str, list[float]]:
    """Lines top to bottom, lowercased alphabetic tokens of lines scored >= the threshold."""
    result = engine(str(image))
    if not result.txts:
        return "", []
    lines = sorted(
        zip(result.boxes.tolist(), result.txts, result.scores, strict=True),
        key=lambda line: min(y for _, y in line[0]),
    )
    words = [
        w
        for _, text, score in lines
        if score >= SCORE_THRESHOLD
        for w in re.findall(r"[a-z]+", text.lower())
    ]
    return " ".join(words), [score for _, _, score in lines]


def test_rendered_keyphrases_are_read_back_exactly(tmp_path: Path):
    rapidocr = pytest.importorskip("rapidocr")
    generate(
        tmp_path,
        n_train=16,
        n_dev=0,
        n_test=0,
        seed=11,
        noise_share=0.0,
        kind_weights=(0.0, 1.0, 0.0),
    )
    posts = read_posts(tmp_path / "train.jsonl")[:6]
    engine = rapidocr.RapidOCR()
    rendered = []
    for post in posts:
        planted = post.extra["planted"]
        assert planted["kind"] == "ocr"
        text, scores = read_text(engine, tmp_path / post.image)
        assert text == planted["image_keyphrase"], (post.id, planted["rendered_text"], text)
        assert min(scores) >= SCORE_THRESHOLD
        rendered.append(planted["rendered_text"])
    # the sample covers both letter cases
    assert any(r.isupper() for r in rendered) and any(r.islower() for r in rendered)

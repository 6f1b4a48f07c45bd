"""One post, three ways in: the HTTP API (`mmkp serve`), the CLI (`mmkp predict --json`) and
the Python API give identical keyphrases, scores and image diagnostics."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from mmkp.inference.predictor import Predictor

from .conftest import LiveServer


@pytest.mark.slow
def test_api_cli_and_python_give_the_same_prediction(ocr_server: LiveServer):
    model = ocr_server.model
    post = model.dev[1]
    image = model.images / post.image
    python = Predictor.load(model.directory).predict(post.text, image=image)
    mmkp = str(Path(sys.executable).with_name("mmkp"))
    cli = subprocess.run(
        [mmkp, "predict", "--model", str(model.directory), "--text", post.text,
         "--image", str(image), "--json", "--threads", "1"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    from_cli = json.loads(cli.stdout)
    body = {"text": post.text, "image_base64": base64.b64encode(image.read_bytes()).decode()}
    api = httpx.post(f"{ocr_server.url}/v1/keyphrases", json=body, timeout=60).json()

    pairs = [(kp.text, kp.score) for kp in python.keyphrases]
    assert list(zip(from_cli["keyphrases"], from_cli["scores"], strict=True)) == pairs
    assert [(k["text"], k["score"]) for k in api["keyphrases"]] == pairs
    assert post.keyphrases[0] in python.texts  # a trained model: the rendered keyphrase
    assert from_cli["match_score"] == api["match_score"] == python.match_score
    assert from_cli["region_scores"] == python.region_scores.tolist()
    assert api["regions"] == python.regions.tolist()
    assert api["ocr_text"] == python.post.ocr and api["text"] == python.post.text

"""`mmkp serve --model zero-shot`: the reserved name loads the built-in model, which answers
as the Python API does (in process: FastAPI's TestClient runs the lifespan)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from inference.test_zero_shot import GOLDEN, POST
from mmkp.serve.app import create_app
from mmkp.serve.settings import ServeSettings


def test_serve_the_zero_shot_model():
    with TestClient(create_app(ServeSettings(), model_dir="zero-shot")) as client:
        info = client.get("/v1/model").json()
        assert (info["name"], info["uses_image"], info["labels"]) == ("zero-shot", False, 0)
        body = client.post("/v1/keyphrases", json={"text": POST}).json()
        assert [k["text"] for k in body["keyphrases"]] == [text for text, _ in GOLDEN]
        assert body["model"] == "zero-shot" and body["match_score"] is None
        two = client.post("/v1/keyphrases", json={"text": POST, "top_k": 2}).json()
        assert [k["text"] for k in two["keyphrases"]] == ["ucl", "cristiano"]

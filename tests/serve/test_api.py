"""The HTTP API on a tiny random checkpoint, in process (FastAPI's TestClient runs the
lifespan): answers equal the Python API's, every limit is a 4xx JSON error naming its field,
a bad post in a batch fails alone, OpenAPI documents both request forms."""

from __future__ import annotations

import base64
import dataclasses
import json
import logging

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from mmkp.inference.predictor import Predictor
from mmkp.serve.app import create_app
from mmkp.serve.settings import ServeSettings

from .conftest import png_bytes

TEXT = "So excited for the #KidsChoice awards tonight!!!"


@pytest.fixture
def client(tiny: Predictor):
    settings = ServeSettings(max_text_chars=200, max_batch_posts=3, max_body_bytes=40_000,
                             max_image_bytes=10_000, max_image_pixels=100_000)  # fmt: skip
    with TestClient(create_app(settings, predictor=tiny)) as client:
        yield client


def error_of(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    return response.json()["error"]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_health_model_and_docs(client, tiny):
    assert client.get("/health/live").json() == {"status": "alive"}
    assert client.get("/health/ready").json() == {"status": "ready"}
    info = client.get("/v1/model").json()
    assert info["name"] == "mmkp" and info["uses_image"] is True
    assert info["labels"] == len(tiny.checkpoint.labels) and info["decode"]["beam_size"] == 4
    assert info["limits"]["max_batch_posts"] == 3
    assert "swagger" in client.get("/docs").text.lower()
    schema = client.get("/openapi.json").json()
    body = schema["paths"]["/v1/keyphrases"]["post"]["requestBody"]["content"]
    assert set(body) == {
        "application/json",
        "multipart/form-data",
        "application/x-www-form-urlencoded",
    }
    assert "/v1/keyphrases:batch" in schema["paths"]


def test_one_post_answers_as_the_python_api(client, tiny):
    response = client.post("/v1/keyphrases", json={"text": TEXT, "id": "p1"},
                           headers={"X-Request-ID": "req-42"})  # fmt: skip
    assert response.status_code == 200 and response.headers["x-request-id"] == "req-42"
    body = response.json()
    expected = tiny.predict(TEXT)
    assert [(k["text"], k["score"]) for k in body["keyphrases"]] == [
        (kp.text, kp.score) for kp in expected.keyphrases
    ]
    assert body["id"] == "p1" and body["text"] == expected.post.text
    assert body["match_score"] is None and body["regions"] is None and body["ocr"] == []
    assert body["model"] == "mmkp" and body["timings"]["batch_posts"] == 1
    assert body["timings"]["total_ms"] >= body["timings"]["decode_ms"] > 0


def test_decode_settings_per_request(client):
    one = client.post("/v1/keyphrases", json={"text": TEXT, "top_k": 1}).json()
    assert len(one["keyphrases"]) == 1
    wide = client.post("/v1/keyphrases", json={"text": TEXT, "top_k": 6, "beam_size": 8.0}).json()
    assert len(wide["keyphrases"]) == 6  # 8.0 is a JSON Schema integer
    form = client.post("/v1/keyphrases", data={"text": TEXT, "top_k": "2"})  # url-encoded
    assert form.request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert len(form.json()["keyphrases"]) == 2
    multipart = client.post("/v1/keyphrases", data={"text": TEXT, "top_k": "two"},
                            files={"image": ("", b"")})  # fmt: skip
    error = error_of(multipart, 422)
    assert error["field"] == "top_k" and "not a whole number" in error["message"]
    error = error_of(client.post("/v1/keyphrases", json={"text": TEXT, "top_k": 0}), 422)
    assert error["field"] == "top_k"


def test_block_repeats_per_request_is_the_python_apis(client, tiny_dir, tiny):
    blocked = Predictor.load(tiny_dir, decode=dataclasses.replace(tiny.decode, block_repeats=True))
    expected = [(kp.text, kp.score) for kp in blocked.predict(TEXT).keyphrases]
    body = client.post("/v1/keyphrases", json={"text": TEXT, "block_repeats": True}).json()
    assert [(k["text"], k["score"]) for k in body["keyphrases"]] == expected
    form = client.post("/v1/keyphrases", data={"text": TEXT, "block_repeats": "true"}).json()
    assert [(k["text"], k["score"]) for k in form["keyphrases"]] == expected
    error = error_of(client.post("/v1/keyphrases", json={"text": TEXT, "block_repeats": 1}), 422)
    assert error["field"] == "block_repeats"


@pytest.mark.parametrize(
    ("body", "status", "field", "message"),
    [
        ({"text": "!!! ???"}, 422, "text", "has no words after normalisation"),
        ({"text": "   "}, 422, "text", "has no words after normalisation"),
        ({"text": "x" * 201}, 422, "text", "201 characters, over the 200 limit"),
        ({}, 422, "text", "Field required"),
        ({"text": 5}, 422, "text", "valid string"),
        ({"text": "hi", "colour": "red"}, 422, "colour", "Extra inputs are not permitted"),
        ({"text": "hi", "image_base64": "not base64!"}, 422, "image_base64", "not base64"),
        ({"text": "hi", "image_base64": b64(b"plain text")}, 415, "image_base64", "not a readable"),
        ({"text": "hi", "image_url": "http://example.com/a.png"}, 422, "image_url", "disabled"),
        ({"text": "hi", "image_url": "x", "image_base64": "eA=="}, 422, "image_url", "not both"),
        ({"text": "hi", "beam_size": True}, 422, "beam_size", "expected an integer"),
        ({"text": "hi", "top_k": "3"}, 422, "top_k", "expected an integer"),
        ({"text": "hi", "image_base64": ""}, 422, "image_base64", "at least 1 character"),
    ],
)
def test_bad_requests_are_json_errors_naming_the_field(client, body, status, field, message):
    error = error_of(client.post("/v1/keyphrases", json=body), status)
    assert error["field"] == field and message in error["message"]


def test_image_limits(client):
    big = png_bytes(Image.effect_noise((80, 80), 60).convert("RGB"))  # noise: > 10 kB as PNG
    assert len(big) > 10_000
    error = error_of(
        client.post("/v1/keyphrases", json={"text": "a", "image_base64": b64(big)}), 413
    )
    assert error["field"] == "image_base64" and "10000-byte limit" in error["message"]
    wide = png_bytes(Image.new("RGB", (400, 300), "white"))  # 120,000 pixels, a small file
    error = error_of(
        client.post("/v1/keyphrases", json={"text": "a", "image_base64": b64(wide)}), 413
    )
    assert "400x300 pixels, over the 100000-pixel limit" in error["message"]
    tiff = png_bytes(Image.new("RGB", (20, 20)), "TIFF")
    error = error_of(
        client.post("/v1/keyphrases", json={"text": "a", "image_base64": b64(tiff)}), 415
    )
    assert "TIFF images are not accepted" in error["message"]
    files = {"image": ("a.tiff", tiff, "image/tiff")}
    error = error_of(client.post("/v1/keyphrases", data={"text": "a"}, files=files), 415)
    assert error["field"] == "image"


def test_body_and_json_problems(client):
    error = error_of(client.post("/v1/keyphrases", content=b'{"text": "hi"', headers={
        "content-type": "application/json"}), 400)  # fmt: skip
    assert error == {"type": "malformed_json", "field": "body", "message": error["message"]}
    as_json = {"content-type": "application/json"}
    error = error_of(client.post("/v1/keyphrases", content=b"[1, 2]", headers=as_json), 422)
    assert error["field"] == "body"
    as_form = {"content-type": "application/x-www-form-urlencoded"}  # `curl -d '{...}'`
    error = error_of(client.post("/v1/keyphrases", content=b'{"text": "a"}', headers=as_form), 415)
    assert "Content-Type: application/json" in error["message"]
    plain = {"content-type": "text/plain"}
    assert (
        error_of(client.post("/v1/keyphrases", content=b"hi", headers=plain), 415)["field"]
        == "body"
    )
    error = error_of(client.post("/v1/keyphrases:batch", data={"text": "a"}), 415)
    assert error["type"] == "unsupported_media_type"
    error = error_of(client.post("/v1/keyphrases", content=b" " * 40_001), 413)
    assert error["field"] == "body" and "over 40000" in error["message"]
    twice = client.post("/v1/keyphrases", data={"text": ["a b", "c d"]})  # a list, as forms send it
    assert error_of(twice, 422)["message"] == "form field 'text' given more than once"
    twice = client.post(
        "/v1/keyphrases", data={"text": "a", "id": ["1", "2"]}, files={"image": ("", b"")}
    )
    assert error_of(twice, 422)["field"] == "id"
    error = error_of(client.post("/v1/keyphrases", files={"colour": ("c", b"red")},
                                 data={"text": "hi"}), 422)  # fmt: skip
    assert error["field"] == "colour"
    assert error_of(client.get("/v1/nothing"), 404)["type"] == "not_found"
    assert error_of(client.get("/v1/keyphrases"), 405)["type"] == "method_not_allowed"


def test_a_bad_post_in_a_batch_fails_alone(client, tiny):
    posts = [{"text": TEXT, "id": "a"}, {"text": "?!", "id": "b"}, {"text": "rain in london"}]
    body = client.post("/v1/keyphrases:batch", json={"posts": posts}).json()
    assert [item["index"] for item in body["results"]] == [0, 1, 2]
    first, bad, last = body["results"]
    assert bad["result"] is None and bad["error"]["field"] == "posts.1.text"
    assert "has no words" in bad["error"]["message"]
    for item, text in ((first, TEXT), (last, "rain in london")):
        assert item["error"] is None
        assert [k["text"] for k in item["result"]["keyphrases"]] == tiny.predict(text).texts
    assert first["id"] == "a" and last["id"] is None
    too_many = {"posts": [{"text": "a"}] * 4}
    error = error_of(client.post("/v1/keyphrases:batch", json=too_many), 422)
    assert error["field"] == "posts" and "4 posts, over the limit of 3" in error["message"]
    error = error_of(client.post("/v1/keyphrases:batch", json={"posts": []}), 422)
    assert error["field"] == "posts"


def test_examples_are_generated_posts_with_images(client):
    examples = client.get("/v1/examples").json()
    assert [e["name"] for e in examples][:2] == ["rendered text", "visual object"]
    for example in examples:
        header, _, data = example["image"].partition(",")
        assert header == "data:image/png;base64" and example["gold"] and example["text"]
        assert base64.b64decode(data)[:4] == b"\x89PNG"


def test_the_page_and_its_files_are_served(client):
    page = client.get("/")
    assert page.status_code == 200 and 'id="submit"' in page.text
    assert "drawOverlay" in client.get("/static/app.js").text
    assert client.get("/static/style.css").status_code == 200


def test_one_json_access_log_line_per_request(client):
    lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger("mmkp.serve.access")
    logger.addHandler(handler)
    previous = logger.level
    logger.setLevel(logging.INFO)
    try:
        client.post("/v1/keyphrases:batch", json={"posts": [{"text": "a b"}, {"text": "c"}]},
                    headers={"X-Request-ID": "batch-7"})  # fmt: skip
        client.post("/v1/keyphrases", json={"text": "!!!"})
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
    first, second = (json.loads(line) for line in lines)
    assert first["id"] == "batch-7" and first["status"] == 200 and first["posts"] == 2
    assert first["path"] == "/v1/keyphrases:batch" and first["latency_ms"] > 0
    assert second["status"] == 422 and second["posts"] == 1 and len(second["id"]) == 32

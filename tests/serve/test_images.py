"""Images through the API, in memory: base64 and multipart give the Python API's answer for
the same bytes; image URLs only when enabled, never to this machine's or private addresses
unless allowed (SSRF guard), with timeouts and limits."""

from __future__ import annotations

import base64

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image, ImageDraw, ImageFont

from mmkp.features.images import ImageError
from mmkp.inference.predictor import Predictor
from mmkp.serve.app import create_app
from mmkp.serve.settings import ServeSettings
from mmkp.serve.urls import is_blocked

from .conftest import Reply, free_port, png_bytes

TEXT = "what a match last night"


def rendered(words: str) -> bytes:
    image = Image.new("RGB", (320, 240), "white")
    ImageDraw.Draw(image).text((20, 90), words, fill="black", font=ImageFont.load_default(size=40))
    return png_bytes(image)


@pytest.fixture(scope="module")
def picture() -> bytes:
    return rendered("GAME DAY")


def client_for(predictor: Predictor, **settings) -> TestClient:
    return TestClient(create_app(ServeSettings(**settings), predictor=predictor))


def same(body: dict, result, *, exact: bool = True) -> None:
    """The API's answer is the Python API's: exactly when alone, up to float noise when the
    post shared a padded batch."""
    assert [k["text"] for k in body["keyphrases"]] == result.texts
    scores = [k["score"] for k in body["keyphrases"]]
    expected = [kp.score for kp in result.keyphrases]
    assert scores == (expected if exact else pytest.approx(expected, abs=1e-5))
    assert body["match_score"] == pytest.approx(result.match_score, abs=0 if exact else 1e-6)
    if exact:
        assert body["regions"] == result.regions.tolist()
    np.testing.assert_allclose(body["regions"], result.regions, atol=1e-6)
    assert body["ocr_text"] == result.post.ocr == "game day"
    assert [line["text"] for line in body["ocr"]] == ["GAME DAY"]
    assert len(body["ocr"][0]["box"]) == 4 and body["ocr"][0]["score"] > 0.8
    assert body["entities"] == [{"name": e.name, "score": e.score} for e in result.entities]


def test_base64_and_multipart_images_answer_as_the_python_api(tiny: Predictor, picture):
    expected = tiny.predict(TEXT, image=picture)
    with client_for(tiny) as client:
        as_json = client.post(
            "/v1/keyphrases",
            json={"text": TEXT, "image_base64": base64.b64encode(picture).decode()},
        )
        data_url = "data:image/png;base64," + base64.b64encode(picture).decode()
        as_data_url = client.post("/v1/keyphrases", json={"text": TEXT, "image_base64": data_url})
        as_form = client.post("/v1/keyphrases", data={"text": TEXT},
                              files={"image": ("a.png", picture, "image/png")})  # fmt: skip
    for response in (as_json, as_data_url, as_form):
        assert response.status_code == 200, response.text
        same(response.json(), expected)
    assert len(as_json.json()["regions"]) == 7 and len(as_json.json()["regions"][0]) == 7


def test_image_urls_are_off_unless_enabled_and_loopback_is_refused(tiny, server, picture):
    server.routes["/a.png"] = lambda query, body: Reply(200, picture, {"Content-Type": "image/png"})
    url = f"{server.url}/a.png"
    with client_for(tiny) as client:
        error = client.post("/v1/keyphrases", json={"text": TEXT, "image_url": url}).json()["error"]
    assert (error["type"], error["field"]) == ("url_disabled", "image_url")
    with client_for(tiny, allow_urls=True) as client:
        response = client.post("/v1/keyphrases", json={"text": TEXT, "image_url": url})
        localhost = url.replace("127.0.0.1", "localhost")
        by_name = client.post("/v1/keyphrases", json={"text": TEXT, "image_url": localhost})
    for refused in (response, by_name):
        assert refused.status_code == 422
        error = refused.json()["error"]
        assert error["type"] == "url_blocked" and "server-side request forgery" in error["message"]
    with client_for(tiny, allow_urls=True, allow_private_urls=True) as client:
        fetched = client.post("/v1/keyphrases", json={"text": TEXT, "image_url": url})
    assert fetched.status_code == 200, fetched.text
    same(fetched.json(), tiny.predict(TEXT, image=picture))


@pytest.mark.parametrize(
    ("route", "status", "kind", "message"),
    [
        (Reply(404), 422, "url_unreachable", "HTTP 404"),
        (Reply(302, headers={"Location": "http://10.0.0.1/"}), 422, "url_unreachable", "redirects"),
        (Reply(200, b"x" * 5000), 413, "too_large", "over the 4000-byte limit"),
        (Reply(200, b"x" * 5000, send_length=False), 413, "too_large", "over the 4000-byte"),
        (Reply(200, b"late", delay=2.0), 422, "url_unreachable", "timed out"),
        (Reply(200, b"<html>no image</html>"), 415, "unsupported_type", "not a readable"),
    ],
)
def test_url_failures_are_4xx_naming_image_url(tiny, server, route, status, kind, message):
    server.routes["/x"] = lambda query, body: route
    settings = {"allow_urls": True, "allow_private_urls": True, "url_timeout": 0.5,
                "max_image_bytes": 4000}  # fmt: skip
    with client_for(tiny, **settings) as client:
        response = client.post(
            "/v1/keyphrases", json={"text": TEXT, "image_url": f"{server.url}/x"}
        )
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["type"] == kind and error["field"] == "image_url" and message in error["message"]


def test_unreachable_and_malformed_urls(tiny):
    closed = f"http://127.0.0.1:{free_port()}/a.png"  # nothing listens there
    with client_for(tiny, allow_urls=True, allow_private_urls=True) as client:
        for url, text in ((closed, "refused"), ("ftp://127.0.0.1/a", "not an http(s) url"),
                          ("http:///a.png", "not an http(s) url")):  # fmt: skip
            error = client.post("/v1/keyphrases", json={"text": TEXT, "image_url": url}).json()[
                "error"
            ]
            assert error["field"] == "image_url" and text in error["message"].lower(), error


@pytest.mark.parametrize(
    ("address", "blocked"),
    [("127.0.0.1", True), ("127.8.9.1", True), ("::1", True), ("::ffff:127.0.0.1", True),
     ("10.1.2.3", True), ("192.168.0.1", True), ("172.16.0.1", True), ("169.254.169.254", True),
     ("0.0.0.0", True), ("224.0.0.1", True), ("fe80::1", True), ("fc00::1", True),
     ("93.184.216.34", False), ("2606:4700::1111", False)],
)  # fmt: skip
def test_the_guard_refuses_this_machine_and_private_networks(address, blocked):
    assert is_blocked(address) is blocked  # address arithmetic only: nothing is contacted


def test_a_bad_image_in_a_batch_fails_alone(tiny, picture):
    posts = [{"text": TEXT, "image_base64": base64.b64encode(picture).decode()},
             {"text": TEXT, "image_base64": base64.b64encode(b"GIF89a broken").decode()},
             {"text": TEXT}]  # fmt: skip
    with client_for(tiny) as client:
        results = client.post("/v1/keyphrases:batch", json={"posts": posts}).json()["results"]
    assert results[1]["error"]["field"] == "posts.1.image_base64"
    same(results[0]["result"], tiny.predict(TEXT, image=picture), exact=False)
    assert results[2]["result"]["keyphrases"] and results[2]["result"]["regions"] is None


class UnreadableFeaturizer:
    """A featurizer that cannot read any image: the predictor's own refusal of an image."""

    def load(self, image):
        raise ImageError("<PIL image RGB 320x240>", "corrupt or truncated image (test)")


def test_an_image_the_predictor_refuses_is_422_naming_its_field(tiny_dir, picture):
    predictor = Predictor.load(tiny_dir, featurizer=UnreadableFeaturizer())  # type: ignore[arg-type]
    image = base64.b64encode(picture).decode()
    with client_for(predictor) as client:
        one = client.post("/v1/keyphrases", data={"text": TEXT},
                          files={"image": ("a.png", picture, "image/png")})  # fmt: skip
        batch = client.post("/v1/keyphrases:batch", json={"posts": [
            {"text": TEXT}, {"text": TEXT, "image_base64": image}, {"text": "!!"}]})  # fmt: skip
    assert one.status_code == 422
    error = one.json()["error"]
    assert (error["type"], error["field"]) == ("invalid", "image")
    assert error["message"] == "image <PIL image RGB 320x240>: corrupt or truncated image (test)"
    results = batch.json()["results"]
    assert results[0]["result"]["keyphrases"] and results[1]["result"] is None
    errors = [None if r["error"] is None else (r["error"]["type"], r["error"]["field"])
              for r in results]  # fmt: skip
    assert errors == [None, ("invalid", "posts.1.image_base64"), ("no_words", "posts.2.text")]

"""What a web page and a stranger can do to a local server (issue 23, class 7): the API key,
the Host check (DNS rebinding), the Origin check and CORS, bodies without a Content-Type,
the model's path on disk."""

from __future__ import annotations

import httpx
import pytest
from fastapi.testclient import TestClient

from mmkp.inference.predictor import Predictor
from mmkp.serve.app import create_app
from mmkp.serve.settings import ServeSettings

from .conftest import serving

TEXT = "what a match last night"
KEY = "s3cret-key-for-tests"


def client_for(predictor: Predictor, **settings) -> TestClient:
    return TestClient(create_app(ServeSettings(**settings), predictor=predictor))


def test_a_body_without_content_type_is_refused(tiny):
    """A page can POST text/plain or no type at all without a CORS preflight."""
    with client_for(tiny) as client:
        bare = client.post("/v1/keyphrases", content=b'{"text": "a b c"}')
        batch = client.post("/v1/keyphrases:batch", content=b'{"posts": [{"text": "a b"}]}')
    for response in (bare, batch):
        assert response.status_code == 415, response.text
        assert response.json()["error"]["type"] == "unsupported_media_type"


def test_the_model_path_is_shown_only_when_configured(tiny_dir):
    with TestClient(create_app(ServeSettings(), model_dir=tiny_dir)) as client:
        assert client.get("/v1/model").json()["directory"] is None
    with TestClient(create_app(ServeSettings(show_model_path=True), model_dir=tiny_dir)) as client:
        assert client.get("/v1/model").json()["directory"] == str(tiny_dir)


@pytest.fixture
def keyed(tiny, monkeypatch) -> TestClient:
    monkeypatch.setenv("MMKP_TEST_KEY", KEY)
    with client_for(tiny, api_key_env="MMKP_TEST_KEY") as client:
        yield client


def test_the_api_key_is_required_when_configured(keyed):
    post = {"text": TEXT}
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"X-API-Key": KEY[:-1]},
                    {"Authorization": KEY}):  # fmt: skip
        response = keyed.post("/v1/keyphrases", json=post, headers=headers)
        assert response.status_code == 401, (headers, response.text)
        assert response.json()["error"]["type"] == "unauthorized"
        assert response.headers["www-authenticate"] == "Bearer"
    assert keyed.get("/v1/model").status_code == 401
    bearer = keyed.post("/v1/keyphrases", json=post, headers={"Authorization": f"Bearer {KEY}"})
    header = keyed.post("/v1/keyphrases:batch", json={"posts": [post]}, headers={"X-API-Key": KEY})
    assert bearer.status_code == 200 and header.status_code == 200
    for open_path in ("/health/live", "/health/ready", "/metrics", "/", "/docs"):
        assert keyed.get(open_path).status_code == 200, open_path


def test_the_api_key_comes_only_from_the_environment(tiny, monkeypatch):
    monkeypatch.delenv("MMKP_NO_SUCH_KEY", raising=False)
    with pytest.raises(ValueError, match="MMKP_NO_SUCH_KEY"):
        create_app(ServeSettings(api_key_env="MMKP_NO_SUCH_KEY"), predictor=tiny)
    assert "api_key" not in {name for name in ServeSettings.__dataclass_fields__} - {"api_key_env"}


def test_loopback_servers_answer_loopback_host_names_only(tiny):
    with serving(create_app(ServeSettings(), predictor=tiny)) as url:
        port = url.rsplit(":", 1)[1]
        rebound = httpx.get(f"{url}/v1/model", headers={"Host": f"evil.example:{port}"})
        for name in ("127.0.0.1", "localhost", "[::1]"):
            assert httpx.get(f"{url}/v1/model", headers={"Host": f"{name}:{port}"}).is_success
    assert rebound.status_code == 400, rebound.text
    assert rebound.json()["error"]["type"] == "invalid_host"


def test_allowed_hosts_setting(tiny):
    with client_for(tiny, allowed_hosts="api.example, other.example") as client:
        assert client.get("/health/live", headers={"Host": "api.example"}).status_code == 200
        assert client.get("/health/live").status_code == 400  # Host: testserver


def test_cross_origin_posts_are_refused_and_cors_is_off_by_default(tiny):
    with client_for(tiny) as client:
        # A form a page on another site submits: a "simple" request, no preflight.
        forged = client.post("/v1/keyphrases", data={"text": TEXT},
                             headers={"Origin": "http://evil.example"})  # fmt: skip
        same = client.post("/v1/keyphrases", json={"text": TEXT},
                           headers={"Origin": "http://testserver"})  # fmt: skip
        preflight = client.options("/v1/keyphrases", headers={
            "Origin": "http://evil.example", "Access-Control-Request-Method": "POST"})  # fmt: skip
    assert forged.status_code == 403 and forged.json()["error"]["type"] == "cross_origin"
    assert same.status_code == 200
    assert "access-control-allow-origin" not in preflight.headers


def test_cors_allow_list(tiny):
    origin = "http://app.example"
    with client_for(tiny, cors_origins=origin) as client:
        preflight = client.options("/v1/keyphrases", headers={
            "Origin": origin, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type"})  # fmt: skip
        allowed = client.post("/v1/keyphrases", json={"text": TEXT}, headers={"Origin": origin})
        other = client.post("/v1/keyphrases", json={"text": TEXT},
                            headers={"Origin": "http://evil.example"})  # fmt: skip
    assert preflight.headers["access-control-allow-origin"] == origin
    assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == origin
    assert other.status_code == 403


def test_mmkp_serve_stops_with_one_line_when_the_key_variable_is_unset(
    tiny_dir, capsys, monkeypatch
):
    from mmkp.serve.__main__ import main

    monkeypatch.delenv("MMKP_NO_SUCH_KEY", raising=False)
    assert main(["--model", str(tiny_dir), "--set", "api_key_env=MMKP_NO_SUCH_KEY"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("mmkp serve: error: serve.api_key_env names MMKP_NO_SUCH_KEY")
    assert "\n" not in error

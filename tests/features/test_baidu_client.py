"""The Baidu client against a loopback server that answers in the documented shapes."""

from __future__ import annotations

import base64
import io
import json
import urllib.parse

import pytest
from PIL import Image

from mmkp.data.record import Entity
from mmkp.features.entities import EntityError, EntityServiceError, make_provider
from mmkp.features.entities.baidu import BaiduClient, BaiduConfig, BaiduEntities

from .conftest import LoopbackServer, Reply

TOKEN, API = "/oauth/2.0/token", "/rest/2.0/image-classify/v2/advanced_general"
RESULT = {
    "log_id": 327863200205075661,
    "result_num": 3,
    "result": [
        {"score": 0.53, "root": "商品-容器", "keyword": "cup"},
        {"score": 0.96, "root": "商品-饮品", "keyword": "espresso "},
        {"score": 0.21, "root": "非自然图像-其他", "keyword": "saucer"},
    ],
}


def _json(obj: object, status: int = 200) -> Reply:
    return Reply(status, json.dumps(obj).encode(), {"Content-Type": "application/json"})


def _token_ok(query: str, body: bytes) -> Reply:
    params = urllib.parse.parse_qs(query)
    if params.get("client_id") != ["key"] or params.get("client_secret") != ["secret"]:
        return _json({"error": "invalid_client", "error_description": "unknown client id"}, 401)
    assert params["grant_type"] == ["client_credentials"]
    return _json({"access_token": "tok-1", "expires_in": 2592000})


def _client(server: LoopbackServer, **overrides: object) -> BaiduClient:
    config = BaiduConfig(
        token_url=server.url + TOKEN, api_url=server.url + API, backoff=0.01, timeout=0.5
    )
    return BaiduClient(
        str(overrides.pop("key", "key")),
        "secret",
        BaiduConfig(**{**config.__dict__, **overrides}),
    )


def _image() -> Image.Image:
    return Image.new("RGB", (40, 30), (200, 10, 10))


def test_recognise_sends_base64_image_and_parses_keywords(server: LoopbackServer) -> None:
    server.routes[TOKEN] = _token_ok
    server.routes[API] = lambda query, body: _json(RESULT)
    client = _client(server, top_k=2)
    assert client.recognise(_image()) == [Entity("espresso", 0.96), Entity("cup", 0.53)]
    assert client.recognise(_image())[0].name == "espresso"
    paths = [path for path, _, _ in server.requests]
    assert paths == [TOKEN, API, API]  # the token is fetched once and reused
    _, query, body = server.requests[1]
    assert urllib.parse.parse_qs(query) == {"access_token": ["tok-1"]}
    sent = base64.b64decode(urllib.parse.parse_qs(body.decode())["image"][0])
    assert Image.open(io.BytesIO(sent)).size == (40, 30)


def test_bad_credentials(server: LoopbackServer) -> None:
    server.routes[TOKEN] = _token_ok
    with pytest.raises(EntityServiceError) as caught:
        _client(server, key="wrong").recognise(_image())
    assert "rejected the credentials from BAIDU_API_KEY / BAIDU_SECRET_KEY" in str(caught.value)
    assert "unknown client id" in str(caught.value)


def test_expired_token_is_renewed_once(server: LoopbackServer) -> None:
    server.routes[TOKEN] = _token_ok
    answers = [_json({"error_code": 111, "error_msg": "Access token expired"}), _json(RESULT)]
    server.routes[API] = lambda query, body: answers.pop(0)
    assert _client(server).recognise(_image())[0] == Entity("espresso", 0.96)
    assert [path for path, _, _ in server.requests] == [TOKEN, API, TOKEN, API]


def test_quota_and_permission_stop_the_run(server: LoopbackServer) -> None:
    server.routes[TOKEN] = _token_ok
    server.routes[API] = lambda q, b: _json(
        {"error_code": 17, "error_msg": "Open api daily request limit reached"}
    )
    with pytest.raises(EntityServiceError, match=r"error 17: .*request quota used up"):
        _client(server).recognise(_image())
    server.routes[API] = lambda q, b: _json({"error_code": 6, "error_msg": "No permission"})
    with pytest.raises(EntityServiceError, match="error 6: No permission"):
        _client(server).recognise(_image())


def test_busy_and_server_errors_are_retried_with_backoff(server: LoopbackServer) -> None:
    server.routes[TOKEN] = _token_ok
    answers = [
        _json({"error_code": 18, "error_msg": "Open api qps request limit reached"}),
        Reply(502, b"bad gateway"),
        _json(RESULT),
    ]
    server.routes[API] = lambda q, b: answers.pop(0)
    waits: list[float] = []
    client = BaiduClient("key", "secret", _client(server).config, sleep=waits.append)
    assert client.recognise(_image())[0].name == "espresso"
    assert waits == [0.01, 0.02]


def test_gives_up_after_retries(server: LoopbackServer) -> None:
    server.routes[TOKEN] = _token_ok
    server.routes[API] = lambda q, b: Reply(503, b"down")
    with pytest.raises(EntityServiceError, match="failed after 3 attempts: HTTP 503"):
        _client(server, retries=2).recognise(_image())
    assert len([p for p, _, _ in server.requests if p == API]) == 3


def test_timeout(server: LoopbackServer) -> None:
    server.routes[TOKEN] = _token_ok
    server.routes[API] = lambda q, b: Reply(200, json.dumps(RESULT).encode(), delay=1.5)
    with pytest.raises(EntityServiceError, match=r"failed after 2 attempts: .*timed out"):
        _client(server, retries=1, timeout=0.3).recognise(_image())


def test_malformed_answers_fail_that_image_only(server: LoopbackServer) -> None:
    server.routes[TOKEN] = _token_ok
    cases = {
        b"<html>oops</html>": "malformed answer (not JSON): '<html>oops</html>'",
        b"[1, 2]": "malformed answer (not a JSON object)",
        b'{"log_id": 1}': "Baidu answer has no 'result' list",
        b'{"result": [{"keyword": "cup"}]}': "Baidu result item lacks keyword/score",
        b'{"error_code": 216201, "error_msg": "image format error"}': "error 216201",
    }
    provider = BaiduEntities(_client(server))
    for body, message in cases.items():
        server.routes[API] = lambda q, b, body=body: Reply(200, body)
        (result,) = provider.recognise([], [_image()])
        assert isinstance(result, EntityError), body
        assert message in str(result), (body, str(result))


def test_too_small_image_and_missing_environment(
    server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.routes[TOKEN] = _token_ok
    (result,) = BaiduEntities(_client(server)).recognise([], [Image.new("RGB", (10, 40))])
    assert str(result) == "image is 10x40, Baidu needs >= 15 px a side"
    monkeypatch.delenv("BAIDU_API_KEY", raising=False)
    monkeypatch.setenv("BAIDU_SECRET_KEY", "s")
    with pytest.raises(EntityServiceError, match="BAIDU_API_KEY and BAIDU_SECRET_KEY"):
        make_provider("baidu")

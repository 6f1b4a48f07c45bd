"""The service probed as an attacker would, on loopback only (issue 23): addresses that are
not globally reachable, slow image bodies, huge forms, stalled uploads, status codes."""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import struct
import threading
import time
import zlib

import httpx
import pytest
from fastapi.testclient import TestClient

from mmkp.inference.predictor import Predictor
from mmkp.serve.app import create_app
from mmkp.serve.settings import ENVIRONMENT, ServeSettings
from mmkp.serve.urls import is_blocked

from .conftest import Reply, serving
from .test_images import rendered

TEXT = "what a match last night"


def client_for(predictor: Predictor, **settings) -> TestClient:
    return TestClient(create_app(ServeSettings(**settings), predictor=predictor))


@pytest.mark.parametrize(
    "address",
    [
        "100.64.0.1",  # RFC 6598 shared address space (carrier-grade NAT, a cloud's metadata)
        "100.100.100.200",
        "255.255.255.255",  # limited broadcast
        "198.18.0.1",  # benchmarking
        "2002:c0a8:101::1",  # 6to4 of 192.168.1.1
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
        "::ffff:100.64.0.1",
    ],
)
def test_addresses_not_globally_reachable_are_refused(address):
    assert is_blocked(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "2002:808:808::1", "64:ff9b::808:808"])
def test_public_addresses_and_their_ipv6_forms_pass(address):
    assert not is_blocked(address)


def test_a_shared_address_url_is_refused_before_connecting(tiny):
    with client_for(tiny, allow_urls=True, url_timeout=0.5) as client:
        response = client.post(
            "/v1/keyphrases", json={"text": TEXT, "image_url": "http://100.64.0.1/a.png"}
        )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["type"] == "url_blocked"


def test_a_slow_body_ends_at_the_deadline(tiny, server):
    # 40 bytes at one byte every 0.25 s: 10 s in all, past a 1 s timeout.
    server.routes["/slow.png"] = lambda query, body: Reply(200, b"x" * 40, trickle=0.25)
    settings = {"allow_urls": True, "allow_private_urls": True, "url_timeout": 1.0}
    with client_for(tiny, **settings) as client:
        started = time.monotonic()
        response = client.post(
            "/v1/keyphrases", json={"text": TEXT, "image_url": f"{server.url}/slow.png"}
        )
        took = time.monotonic() - started
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == "image_url" and "timed out" in error["message"]
    assert took < 2.5


def test_downloads_cannot_starve_the_other_requests(tiny, server):
    server.routes["/slow.png"] = lambda query, body: Reply(200, b"x" * 40, trickle=0.1)  # 4 s
    settings = {"allow_urls": True, "allow_private_urls": True, "url_timeout": 3.0,
                "max_url_fetches": 1}  # fmt: skip
    slow = {"text": TEXT, "image_url": f"{server.url}/slow.png"}
    inline = {"text": TEXT, "image_base64": base64.b64encode(rendered("GAME DAY")).decode()}
    with client_for(tiny, **settings) as client:
        assert client.post("/v1/keyphrases", json=inline).status_code == 200  # OCR warmed up
        first = threading.Thread(
            target=client.post, args=("/v1/keyphrases",), kwargs={"json": slow}
        )
        first.start()
        while not server.requests:  # the first download is under way
            time.sleep(0.01)
        refused = client.post("/v1/keyphrases", json=slow)
        served = client.post("/v1/keyphrases", json=inline)
        still_downloading = first.is_alive()
        first.join()
    assert refused.status_code == 503 and refused.headers["retry-after"] == "1", refused.text
    assert refused.json()["error"]["field"] == "image_url"
    assert served.status_code == 200 and still_downloading


def test_forms_with_too_many_fields_are_refused(tiny):
    with client_for(tiny) as client:
        empty_fields = client.post(
            "/v1/keyphrases",
            content=b"&" * 2_000_000,
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        boundary = "b"
        part = f'--{boundary}\r\nContent-Disposition: form-data; name="x"\r\n\r\n\r\n'
        tiny_parts = client.post(
            "/v1/keyphrases",
            content=(part * 20_000 + f"--{boundary}--\r\n").encode(),
            headers={"content-type": f"multipart/form-data; boundary={boundary}"},
        )
    for response in (empty_fields, tiny_parts):
        assert response.status_code == 413, response.text
        error = response.json()["error"]
        assert error["field"] == "body" and "fields" in error["message"], error


def test_a_huge_form_does_not_block_the_event_loop(tiny):
    body = b"a=&" * 5_000_000  # 15 MB of empty fields
    with serving(create_app(ServeSettings(), predictor=tiny)) as url:
        outcome: dict[str, httpx.Response] = {}
        upload = threading.Thread(
            target=lambda: outcome.setdefault("r", httpx.post(
                f"{url}/v1/keyphrases", content=body, timeout=60,
                headers={"content-type": "application/x-www-form-urlencoded"})),
        )  # fmt: skip
        upload.start()
        slowest = 0.0
        while upload.is_alive():
            started = time.monotonic()
            assert httpx.get(f"{url}/health/live", timeout=10).status_code == 200
            slowest = max(slowest, time.monotonic() - started)
        upload.join()
    assert outcome["r"].status_code == 413, outcome["r"].text
    assert slowest < 1.0


def _stalled_upload(url: str) -> socket.socket:
    """A POST whose headers promise 1000 bytes of body, of which none come."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)))
    sock.sendall(b"POST /v1/keyphrases HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")  # fmt: skip
    return sock


def test_stalled_uploads_time_out_and_the_server_has_a_request_limit(tiny):
    settings = ServeSettings(max_concurrent_requests=2, body_timeout=1.5)
    with serving(create_app(settings, predictor=tiny)) as url:
        stalled = [_stalled_upload(url) for _ in range(2)]
        time.sleep(0.3)  # both are being read
        full = httpx.post(f"{url}/v1/keyphrases", json={"text": TEXT})
        live = httpx.get(f"{url}/health/live")
        for sock in stalled:
            sock.settimeout(10)
            assert sock.recv(1000).startswith(b"HTTP/1.1 408"), "a stalled upload is timed out"
            sock.close()
        after = httpx.post(f"{url}/v1/keyphrases", json={"text": TEXT})
    assert full.status_code == 503 and full.headers["retry-after"] == "1", full.text
    assert full.json()["error"]["type"] == "overloaded"
    assert live.status_code == 200  # probes are not counted
    assert after.status_code == 200


def test_slow_request_headers_are_cut_off(tiny, monkeypatch):
    """Slowloris: headers a byte at a time never reach the app; `mmkp serve`'s protocol ends
    them at `header_timeout`."""
    from mmkp.serve.protocol import HeaderDeadlineProtocol

    monkeypatch.setenv(ENVIRONMENT, json.dumps({"settings": {"header_timeout": 1.0}}))
    app = create_app(ServeSettings(), predictor=tiny)
    with serving(app, http=HeaderDeadlineProtocol) as url:
        host, port = url.removeprefix("http://").split(":")
        slow = socket.create_connection((host, int(port)))
        slow.sendall(b"GET /health/live HTTP/1.1\r\n")
        started = time.monotonic()
        slow.settimeout(0.2)
        closed = False
        while not closed and time.monotonic() - started < 5:
            with contextlib.suppress(OSError):
                slow.sendall(b"X-Slow: 1\r\n")
            try:
                closed = slow.recv(100) == b""
            except TimeoutError:
                pass
            except OSError:
                closed = True
        took = time.monotonic() - started
        slow.close()
        with httpx.Client() as client:  # a keep-alive connection serves request after request
            statuses = [client.get(f"{url}/health/live").status_code for _ in range(3)]
    assert closed and took < 3.0, took
    assert statuses == [200, 200, 200]


def _png_header(width: int, height: int) -> bytes:
    """A PNG that declares `width` x `height` 1-bit pixels (Pillow reads the header only)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


@pytest.mark.parametrize("pixels_limit", [40_000_000, 400_000_000])
def test_an_image_over_the_pixel_limit_is_413_even_when_pillow_refuses_it_first(tiny, pixels_limit):
    bomb = _png_header(20_000, 10_000)  # 200 M pixels: past Pillow's own 179 M guard
    with client_for(tiny, max_image_pixels=pixels_limit) as client:
        as_json = client.post("/v1/keyphrases", json={"text": TEXT,
                              "image_base64": base64.b64encode(bomb).decode()})  # fmt: skip
        as_file = client.post("/v1/keyphrases", data={"text": TEXT},
                              files={"image": ("bomb.png", bomb, "image/png")})  # fmt: skip
    for response, field in ((as_json, "image_base64"), (as_file, "image")):
        assert response.status_code == 413, response.text
        error = response.json()["error"]
        assert (error["type"], error["field"]) == ("too_large", field)
        assert "200000000 pixels" in error["message"]


def test_an_empty_uploaded_file_is_refused_like_an_empty_base64_image(tiny):
    with client_for(tiny) as client:
        as_file = client.post("/v1/keyphrases", data={"text": TEXT},
                              files={"image": ("a.png", b"", "image/png")})  # fmt: skip
        as_json = client.post("/v1/keyphrases", json={"text": TEXT, "image_base64": ""})
        no_file_chosen = client.post("/v1/keyphrases", data={"text": TEXT},
                                     files={"image": ("", b"")})  # fmt: skip
    assert as_json.status_code == 422
    assert as_file.status_code == 422, as_file.text
    assert as_file.json()["error"]["field"] == "image"
    assert "empty" in as_file.json()["error"]["message"]
    assert no_file_chosen.status_code == 200  # what a browser form sends with no file picked

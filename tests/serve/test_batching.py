"""Micro-batching on a real uvicorn: concurrent requests are decoded in one batch and answer
as if alone; a full queue is a 503; SIGTERM lets the request in flight finish."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from mmkp.inference.predictor import Predictor
from mmkp.serve.app import create_app
from mmkp.serve.settings import ServeSettings

from .conftest import free_port, serving, wait_ready

TEXTS = [
    "so excited for the kca awards tonight",
    "rain again in london today",
    "new phone who dis",
    "the kids choice awards in london",
    "phone and umbrella weather",
    "tonight the awards",
    "london london phone",
    "who is excited for tonight",
]


def post_all(url: str, bodies: list[dict]) -> list[httpx.Response]:
    """All bodies at once, one connection each."""
    with ThreadPoolExecutor(len(bodies)) as pool:
        return list(
            pool.map(lambda b: httpx.post(f"{url}/v1/keyphrases", json=b, timeout=60), bodies)
        )


def test_concurrent_requests_are_decoded_together_and_answer_as_alone(tiny: Predictor):
    sizes: list[int] = []
    app = create_app(ServeSettings(batch_wait_ms=400, batch_max_posts=8), predictor=tiny)
    with serving(app) as url:
        app.state.service.batcher.on_batch = sizes.append
        responses = post_all(url, [{"text": text} for text in TEXTS])
    assert [r.status_code for r in responses] == [200] * 8
    assert sizes == [8]  # one batch: the worker waited 400 ms after the first for the rest
    for text, response in zip(TEXTS, responses, strict=True):
        body = response.json()
        assert body["timings"]["batch_posts"] == 8
        alone = tiny.predict(text)
        assert [k["text"] for k in body["keyphrases"]] == alone.texts
        assert [k["score"] for k in body["keyphrases"]] == pytest.approx(
            [kp.score for kp in alone.keyphrases], abs=1e-5
        )


def test_posts_with_other_decode_settings_share_the_batch_in_their_own_group(tiny: Predictor):
    sizes: list[int] = []
    app = create_app(ServeSettings(batch_wait_ms=400), predictor=tiny)
    with serving(app) as url:
        app.state.service.batcher.on_batch = sizes.append
        bodies = [{"text": TEXTS[0], "top_k": k} for k in (1, 2, 1, 3)]
        responses = post_all(url, bodies)
    assert sizes == [4]
    assert [len(r.json()["keyphrases"]) for r in responses] == [1, 2, 1, 3]


def test_a_lone_request_is_not_held_back_without_a_wait(tiny: Predictor):
    app = create_app(ServeSettings(batch_wait_ms=0), predictor=tiny)
    with serving(app) as url:
        body = httpx.post(f"{url}/v1/keyphrases", json={"text": TEXTS[0]}).json()
    assert body["timings"]["batch_posts"] == 1 and body["timings"]["queue_ms"] < 50


def test_a_full_queue_answers_503_with_retry_after(tiny: Predictor):
    app = create_app(ServeSettings(batch_wait_ms=500, max_queue_posts=2), predictor=tiny)
    with serving(app) as url:
        responses = post_all(url, [{"text": text} for text in TEXTS[:4]])
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 200, 503, 503]
    busy = next(r for r in responses if r.status_code == 503)
    assert busy.headers["retry-after"] == "1" and busy.json()["error"]["type"] == "overloaded"


@pytest.mark.slow  # a server process: imports and the model load take a few seconds
def test_sigterm_lets_the_request_in_flight_finish(tiny_dir):
    port = free_port()
    command = [sys.executable, "-m", "mmkp.serve", "--model", str(tiny_dir), "--port", str(port),
               "--threads", "1", "--set", "batch_wait_ms=1500"]  # fmt: skip
    server = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_ready(url)
        answer: list[httpx.Response] = []
        request = threading.Thread(target=lambda: answer.append(
            httpx.post(f"{url}/v1/keyphrases", json={"text": TEXTS[0]}, timeout=30)))  # fmt: skip
        request.start()
        time.sleep(0.5)  # the request now waits in the batcher for 1.5 s
        os.kill(server.pid, signal.SIGTERM)
        request.join(30)
        # uvicorn re-raises the signal once it has shut down: killed by SIGTERM, cleanly
        assert server.wait(30) in (0, -signal.SIGTERM)
    finally:
        if server.poll() is None:
            server.kill()
    log = server.stderr.read() if server.stderr else ""
    assert answer and answer[0].status_code == 200, log
    assert answer[0].json()["keyphrases"]
    assert '"path": "/v1/keyphrases", "status": 200' in log  # the JSON access line
    assert "Waiting for application shutdown" in log and "Traceback" not in log
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/health/live")

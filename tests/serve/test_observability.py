"""/metrics in Prometheus text format, and /docs and /redoc that work without internet."""

from __future__ import annotations

import base64
import re

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from mmkp.serve.app import create_app
from mmkp.serve.settings import ServeSettings

from .test_images import rendered

TEXT = "what a match last night"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_count_requests_times_batches_and_images(tiny):
    picture = base64.b64encode(rendered("GAME DAY")).decode()
    apps = [create_app(ServeSettings(), predictor=tiny) for _ in range(2)]  # no collision
    with TestClient(apps[0]) as client:
        assert client.post(
            "/v1/keyphrases", json={"text": TEXT, "image_base64": picture}
        ).is_success
        assert client.post("/v1/keyphrases", json={"text": ""}).status_code == 422
        url = {"text": TEXT, "image_url": "http://127.0.0.1/a.png"}
        assert client.post("/v1/keyphrases", json=url).status_code == 422  # urls are off
        response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    got = samples(response.text)
    route = (("method", "POST"), ("route", "/v1/keyphrases"))
    assert got[("mmkp_requests_total", (*route, ("status", "200")))] == 1
    assert got[("mmkp_requests_total", (*route, ("status", "422")))] == 2
    assert got[("mmkp_request_seconds_count", (("route", "/v1/keyphrases"),))] == 3
    assert got[("mmkp_featurize_seconds_count", ())] == 1
    assert got[("mmkp_decode_seconds_count", ())] == 1
    assert got[("mmkp_batch_posts_count", ())] == 1 and got[("mmkp_batch_posts_sum", ())] == 1
    assert got[("mmkp_queue_posts", ())] == 0
    assert got[("mmkp_images_total", (("source", "image_base64"),))] == 1
    assert got[("mmkp_images_refused_total", (("reason", "url_disabled"),))] == 1
    with TestClient(apps[1]) as other:
        assert ("mmkp_requests_total", (*route, ("status", "200"))) not in samples(
            other.get("/metrics").text
        )


EXTERNAL = re.compile(r"""https?://(?!127\.0\.0\.1|localhost|testserver)[^"'\s)]+""")


def test_docs_and_redoc_use_no_external_url(tiny):
    with TestClient(create_app(ServeSettings(), predictor=tiny)) as client:
        for page in ("/docs", "/redoc", "/docs/oauth2-redirect"):
            response = client.get(page)
            assert response.status_code == 200, page
            assert not EXTERNAL.findall(response.text), (page, EXTERNAL.findall(response.text))
            for asset in re.findall(r"""(?:src|href)=["']([^"']+)["']""", response.text):
                assert asset.startswith("/"), (page, asset)
                assert client.get(asset).status_code == 200, asset

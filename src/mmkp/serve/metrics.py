"""Prometheus metrics at `GET /metrics` (Prometheus text format), one registry per app so that
several apps in one process (tests, workers) never share or collide:

    mmkp_requests_total{route, method, status}   requests answered
    mmkp_request_seconds{route}                  latency histogram, request in to response out
    mmkp_requests_in_flight                      requests being answered now
    mmkp_featurize_seconds, mmkp_decode_seconds  model time per batch (image CNN + OCR) and per
                                                 decode group (beam search), histograms
    mmkp_batch_posts                             posts per micro-batch, histogram
    mmkp_queue_posts                             posts waiting for the model worker
    mmkp_images_total{source}                    images read: image_base64, image, image_url
    mmkp_images_fetched_total                    image URLs downloaded
    mmkp_images_refused_total{reason}            images refused, by error type (too_large, ...)

`route` is the route's template (`/v1/keyphrases`), never the raw path, so a scan of random
paths adds one series (`unmatched`), not one per path.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class Metrics:
    """The service's metrics in their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "mmkp_requests",
            "HTTP requests answered, by route, method and status",
            ["route", "method", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "mmkp_request_seconds",
            "Seconds from request to response, by route",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge("mmkp_requests_in_flight", "Requests being answered", registry=r)
        self.featurize = Histogram(
            "mmkp_featurize_seconds",
            "Seconds per batch to featurize images (CNN grid, OCR)",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.decode = Histogram(
            "mmkp_decode_seconds",
            "Seconds per decode group (beam search)",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_posts = Histogram(
            "mmkp_batch_posts", "Posts per micro-batch", buckets=BATCH_BUCKETS, registry=r
        )
        self.queue = Gauge("mmkp_queue_posts", "Posts waiting for the model worker", registry=r)
        self.images = Counter(
            "mmkp_images", "Images read, by the field they came in", ["source"], registry=r
        )
        self.fetched = Counter("mmkp_images_fetched", "Image URLs downloaded", registry=r)
        self.refused = Counter(
            "mmkp_images_refused", "Images refused, by error type", ["reason"], registry=r
        )

    def watch_queue(self, depth: Callable[[], int]) -> None:
        """Read the queue depth at each scrape."""
        self.queue.set_function(depth)

    def observe_batch(self, posts: int, featurize_s: float | None, decode_s: list[float]) -> None:
        """One micro-batch: its size, its featurize time (None: every post was refused) and
        each decode group's time."""
        self.batch_posts.observe(posts)
        if featurize_s is not None:
            self.featurize.observe(featurize_s)
        for seconds in decode_s:
            self.decode.observe(seconds)

    def response(self) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


def route_of(scope: Scope) -> str:
    """The template of the route `scope` is (or would be) answered by, or `unmatched`."""
    route = scope.get("route")
    if route is None:  # answered before routing (a refused host, key or origin)
        route = next(
            (r for r in scope["app"].router.routes if r.matches(scope)[0] == Match.FULL), None
        )
    return getattr(route, "path", None) or "unmatched"


class RequestMetrics:
    """ASGI middleware: each request counted by route, method and status, and timed."""

    def __init__(self, app: ASGIApp, metrics: Metrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # if the app fails before answering

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, send_status)
        finally:
            self.metrics.in_flight.dec()
            route = route_of(scope)
            self.metrics.requests.labels(route, scope["method"], str(status)).inc()
            self.metrics.latency.labels(route).observe(time.perf_counter() - started)

"""The access log: one JSON line per request on the `mmkp.serve.access` logger.

    {"event": "request", "id": "9f2c...", "method": "POST", "path": "/v1/keyphrases",
     "status": 200, "latency_ms": 41.3, "posts": 1, "client": "127.0.0.1"}

`id` is the caller's X-Request-ID when it is a short token, else a new one; it is echoed in
the response's X-Request-ID header. Handlers put the number of posts in `request.state.posts`.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("mmkp.serve.access")
_TOKEN = re.compile(rb"[A-Za-z0-9._-]{1,64}")


def configure(stream: Any = None) -> None:
    """Write access lines as they are (no level prefix) to `stream` (stderr by default)."""
    if log.handlers:
        return
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


class AccessLog:
    """ASGI middleware: request id in and out, one JSON line when the response is sent."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        given = dict(scope["headers"]).get(b"x-request-id", b"")
        request_id = given.decode() if _TOKEN.fullmatch(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500  # if the app fails before answering

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            client = scope.get("client")
            line = {
                "event": "request",
                "id": request_id,
                "method": scope["method"],
                "path": scope["path"],
                "status": status,
                "latency_ms": round((time.perf_counter() - started) * 1000, 2),
                "posts": scope["state"].get("posts", 0),
                "client": client[0] if client else None,
            }
            log.info(json.dumps(line))

"""Who may call, and how many at once: one ASGI middleware in front of the routes.

In order, each answered with a JSON error before the request reaches a route:
1. Host (400 `invalid_host`): a name of `allowed_hosts`; when that is empty, a request that
   arrives on a loopback address must name a loopback host, so a web page whose name was
   rebound to 127.0.0.1 (DNS rebinding) cannot read the API.
2. Origin (403 `cross_origin`): a POST from a page of another origin, not in `cors_origins`.
   Browsers send Origin with every cross-origin POST, forms included (which need no CORS
   preflight), so a page the user visits cannot make the server work or fetch URLs for it.
3. API key (401 `unauthorized`, `WWW-Authenticate: Bearer`): /v1/* when `api_key_env` is set;
   `Authorization: Bearer KEY` or `X-API-Key: KEY`, compared in constant time.
4. Concurrency (503 `overloaded`, Retry-After): at most `max_concurrent_requests` requests in
   progress; the health probes and /metrics are neither counted nor refused.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from mmkp.serve.errors import ApiError, error_response
from mmkp.serve.settings import ServeSettings

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
UNCOUNTED = ("/health/", "/metrics")  # probes and scrapes answer even when the server is full
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def api_key(settings: ServeSettings) -> bytes | None:
    """The key from the environment variable `api_key_env` names (None: no key wanted)."""
    if not settings.api_key_env:
        return None
    key = os.environ.get(settings.api_key_env, "")
    if not key:
        raise ValueError(
            f"serve.api_key_env names {settings.api_key_env}, which is not set or empty in the "
            "environment: export the API key there"
        )
    return key.encode()


def host_name(host: str) -> str:
    """A Host header without its port, lower case: `[::1]:8000` -> `::1`."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:  # a name, as test clients give
        return False


class Guard:
    """ASGI middleware: the host, origin, key and concurrency checks above."""

    def __init__(self, app: ASGIApp, settings: ServeSettings, key: bytes | None):
        self.app = app
        self.settings = settings
        self.key = key  # `api_key(settings)`, read when the app is created
        self.in_progress = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        error = self._refusal(scope, Headers(scope=scope))
        if error is not None:
            await error_response(error)(scope, receive, send)
            return
        if scope["path"].startswith(UNCOUNTED):
            await self.app(scope, receive, send)
            return
        if self.in_progress >= self.settings.max_concurrent_requests:
            limit = self.settings.max_concurrent_requests
            message = f"{limit} requests are in progress (limit): try again shortly"
            full = ApiError(503, "overloaded", message, None, {"Retry-After": "1"})
            await error_response(full)(scope, receive, send)
            return
        self.in_progress += 1  # one event loop: no lock needed
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_progress -= 1

    def _refusal(self, scope: Scope, headers: Headers) -> ApiError | None:
        host = headers.get("host", "")
        if not self._host_allowed(host_name(host), scope):
            return ApiError(400, "invalid_host", f"this server does not answer to {host!r}", "Host")
        origin = headers.get("origin")
        if origin is not None and scope["method"] not in SAFE_METHODS:
            same = urlsplit(origin).netloc.lower() == host.lower()
            if not same and origin not in self.settings.origins:
                return ApiError(
                    403,
                    "cross_origin",
                    f"requests from pages of {origin} are not allowed (serve.cors_origins)",
                    "Origin",
                )
        wants_key = self.key is not None and scope["path"].startswith("/v1/")
        if wants_key and not hmac.compare_digest(_given_key(headers), self.key or b""):
            return ApiError(
                401,
                "unauthorized",
                "this server wants an API key: Authorization: Bearer KEY or X-API-Key: KEY",
                None,
                {"WWW-Authenticate": "Bearer"},
            )
        return None

    def _host_allowed(self, name: str, scope: Scope) -> bool:
        allowed = self.settings.hosts
        if allowed:
            return "*" in allowed or name in allowed
        server = scope.get("server")
        if server is not None and _is_loopback(str(server[0])):
            return name in LOOPBACK_NAMES or _is_loopback(name)
        return True


def _given_key(headers: Headers) -> bytes:
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip().encode("latin-1")
    return headers.get("x-api-key", "").encode("latin-1")

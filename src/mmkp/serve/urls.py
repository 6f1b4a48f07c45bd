"""Image URLs fetched by the server, behind a server-side request forgery (SSRF) guard.

The host is resolved once; if any of its addresses is loopback, private, link-local,
multicast, reserved or unspecified, the URL is refused unless `allow_private_urls`, and the
connection goes to the address that was checked (no second lookup a DNS rebinding could
change). Redirects are not followed (a redirect could point anywhere); the download is capped
at `max_image_bytes` and `url_timeout` seconds in all.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from urllib.parse import urlsplit

from mmkp.serve.errors import ApiError
from mmkp.serve.settings import ServeSettings

FIELD = "image_url"
CHUNK = 65_536


def fetch(url: str, settings: ServeSettings) -> bytes:
    """The bytes at an http(s) URL; ApiError (4xx, field `image_url`) when refused or failed."""
    if not settings.allow_urls:
        raise ApiError(
            422, "url_disabled", "image URLs are disabled on this server (--allow-urls)", FIELD
        )
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ApiError(422, "invalid", f"not an http(s) URL: {url!r}", FIELD)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise ApiError(422, "invalid", f"bad port in {url!r}", FIELD) from exc
    address = _checked_address(parts.hostname, port, settings)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    deadline = time.monotonic() + settings.url_timeout
    connection = _connection(parts.scheme, parts.hostname, address, port, settings.url_timeout)
    try:
        connection.request("GET", path, headers={"User-Agent": "mmkp-serve", "Accept": "image/*"})
        response = connection.getresponse()
        if 300 <= response.status < 400:
            raise ApiError(422, "url_unreachable", f"{url}: redirects are not followed", FIELD)
        if response.status != 200:
            raise ApiError(422, "url_unreachable", f"{url}: HTTP {response.status}", FIELD)
        return _read(response, url, settings, deadline)
    except (OSError, http.client.HTTPException) as exc:
        raise ApiError(
            422, "url_unreachable", f"{url}: {exc or type(exc).__name__}", FIELD
        ) from exc
    finally:
        connection.close()


def is_blocked(address: str) -> bool:
    """Whether an address belongs to this machine or a non-public network."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def _checked_address(host: str, port: int, settings: ServeSettings) -> str:
    """The address to connect to, after checking every address the host resolves to."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise ApiError(422, "url_unreachable", f"cannot resolve {host!r}: {exc}", FIELD) from exc
    addresses = [str(info[4][0]) for info in infos]
    blocked = [a for a in addresses if is_blocked(a)]
    if blocked and not settings.allow_private_urls:
        raise ApiError(
            422,
            "url_blocked",
            f"{host} resolves to {blocked[0]}, an address of this machine or a private "
            "network: refused (server-side request forgery guard; --allow-private-urls)",
            FIELD,
        )
    return addresses[0]


class _PinnedHTTP(http.client.HTTPConnection):
    """HTTP to an already resolved address, with the URL's host in the Host header."""

    def __init__(self, host: str, address: str, port: int, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """HTTPS to an already resolved address; the certificate is checked for the URL's host."""

    def __init__(self, host: str, address: str, port: int, timeout: float):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def _connection(
    scheme: str, host: str, address: str, port: int, timeout: float
) -> http.client.HTTPConnection:
    kind = _PinnedHTTPS if scheme == "https" else _PinnedHTTP
    return kind(host, address, port, timeout)


def _read(
    response: http.client.HTTPResponse, url: str, settings: ServeSettings, deadline: float
) -> bytes:
    limit = settings.max_image_bytes
    declared = response.getheader("Content-Length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(
            413, "too_large", f"{url}: {declared} bytes, over the {limit}-byte limit", FIELD
        )
    chunks, size = [], 0
    while chunk := response.read(CHUNK):
        size += len(chunk)
        if size > limit:  # Content-Length may be missing or wrong
            raise ApiError(413, "too_large", f"{url}: over the {limit}-byte limit", FIELD)
        if time.monotonic() > deadline:
            raise ApiError(
                422, "url_unreachable", f"{url}: slower than {settings.url_timeout} s", FIELD
            )
        chunks.append(chunk)
    if not size:
        raise ApiError(422, "url_unreachable", f"{url}: empty response", FIELD)
    return b"".join(chunks)

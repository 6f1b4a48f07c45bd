"""Image URLs fetched by the server, behind a server-side request forgery (SSRF) guard.

The host is resolved once; if any of its addresses is not globally reachable (this machine,
private and shared networks, link-local, documentation and benchmarking ranges, multicast...),
itself or the IPv4 address an IPv6 form embeds (IPv4-mapped, 6to4, NAT64, Teredo), the URL is
refused unless `allow_private_urls`, and the connection goes to the address that was checked
(no second lookup a DNS rebinding could change). Redirects are not followed (a redirect could
point anywhere, so no hop is ever fetched unchecked). The download is capped at
`max_image_bytes` and ends at `url_timeout` seconds after it began, however slowly the server
sends (a TLS handshake included); downloads run on their own `max_url_fetches` threads
(`Downloads`), so slow servers cannot take the threads that decode images.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import anyio
import anyio.to_thread

from mmkp.serve.errors import ApiError
from mmkp.serve.settings import ServeSettings

FIELD = "image_url"
CHUNK = 65_536
NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052: the IPv4 address is the last 32 bits
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class Downloads:
    """Image downloads on their own threads, at most `max_url_fetches` at once (503 beyond):
    a slow server holds one of these, never a thread that decodes images. `on_fetched` is
    called after each download (the metrics)."""

    def __init__(self, settings: ServeSettings, on_fetched: Callable[[], None]):
        self.settings = settings
        self.on_fetched = on_fetched
        self._limiter = anyio.CapacityLimiter(settings.max_url_fetches)

    async def fetch(self, url: str) -> bytes:
        if self._limiter.available_tokens < 1:
            limit = self.settings.max_url_fetches
            message = f"{limit} image downloads are under way (the limit): try again shortly"
            raise ApiError(503, "overloaded", message, FIELD, {"Retry-After": "1"})
        data = await anyio.to_thread.run_sync(fetch, url, self.settings, limiter=self._limiter)
        self.on_fetched()
        return data


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
    deadline = time.monotonic() + settings.url_timeout
    address = _checked_address(parts.hostname, port, settings)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    connection = _connection(parts.scheme, parts.hostname, address, port, deadline)
    # At the deadline the socket is shut down, which ends a read blocked on a slow server.
    cutoff = threading.Timer(max(0.0, deadline - time.monotonic()), connection.cut)
    cutoff.start()
    try:
        connection.request("GET", path, headers={"User-Agent": "mmkp-serve", "Accept": "image/*"})
        response = connection.getresponse()
        if 300 <= response.status < 400:
            raise ApiError(422, "url_unreachable", f"{url}: redirects are not followed", FIELD)
        if response.status != 200:
            raise ApiError(422, "url_unreachable", f"{url}: HTTP {response.status}", FIELD)
        return _read(response, url, settings, deadline)
    except (OSError, http.client.HTTPException) as exc:
        if time.monotonic() >= deadline:
            raise _timed_out(url, settings) from exc
        raise ApiError(
            422, "url_unreachable", f"{url}: {exc or type(exc).__name__}", FIELD
        ) from exc
    finally:
        cutoff.cancel()
        connection.close()


def _timed_out(url: str, settings: ServeSettings) -> ApiError:
    return ApiError(
        422, "url_unreachable", f"{url}: timed out after {settings.url_timeout} s", FIELD
    )


def is_blocked(address: str) -> bool:
    """Whether an address is not globally reachable (IANA's special-purpose registries, as
    `ipaddress` knows them) or multicast, itself or any IPv4 address it embeds. IPv4-mapped,
    6to4 and NAT64 addresses are decided by the IPv4 address inside: that is where they go."""
    ip = ipaddress.ip_address(address)
    checked: list[IPAddress] = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        inside = ip.ipv4_mapped or ip.sixtofour
        if inside is None and ip in NAT64:
            inside = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if inside is not None:
            checked = [inside]
        elif ip.teredo is not None:
            checked.extend(ip.teredo)  # server and client: 2001::/32 is not global anyway
    return any(not a.is_global or a.is_multicast for a in checked)


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


class _Pinned:
    """A connection to an already resolved address, open until `deadline` at the latest:
    `cut` (from a timer) shuts its socket down, and one made after that is shut at once."""

    _address: str
    _deadline: float
    _lock: threading.Lock  # `cut` runs on the timer's thread
    # Kept here: http.client drops `sock` once a response that ends the connection owns it.
    _opened: socket.socket | None = None
    _was_cut = False
    port: int

    def _pin(self, address: str, deadline: float) -> None:
        self._address, self._deadline, self._lock = address, deadline, threading.Lock()

    def _socket(self) -> socket.socket:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("deadline passed before connecting")
        return self._hold(socket.create_connection((self._address, self.port), remaining))

    def _hold(self, sock: socket.socket) -> socket.socket:
        """Makes `sock` the one `cut` shuts down (at once if the cut came first)."""
        with self._lock:
            self._opened, cut = sock, self._was_cut
        if cut:
            _shut(sock)
        return sock

    def cut(self) -> None:
        with self._lock:
            self._was_cut, sock = True, self._opened
        if sock is not None:
            _shut(sock)


def _shut(sock: socket.socket) -> None:
    """Shuts the socket's file descriptor down, which ends a read blocked on it (a TLS one
    included: the plain socket's method, not SSLSocket's, which would also drop its TLS
    state under a read still running on another thread)."""
    with contextlib.suppress(OSError):  # already closed
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _PinnedHTTP(_Pinned, http.client.HTTPConnection):
    """HTTP to an already resolved address, with the URL's host in the Host header."""

    def __init__(self, host: str, address: str, port: int, deadline: float):
        http.client.HTTPConnection.__init__(self, host, port, timeout=deadline - time.monotonic())
        self._pin(address, deadline)

    def connect(self) -> None:
        self.sock = self._socket()


class _PinnedHTTPS(_Pinned, http.client.HTTPSConnection):
    """HTTPS to an already resolved address; the certificate is checked for the URL's host
    against the system's CAs (`tls_context`)."""

    def __init__(self, host: str, address: str, port: int, deadline: float):
        http.client.HTTPSConnection.__init__(
            self, host, port, timeout=deadline - time.monotonic(), context=tls_context()
        )
        self._pin(address, deadline)

    def connect(self) -> None:
        context = self._context  # type: ignore[attr-defined]
        tls = context.wrap_socket(
            self._socket(), server_hostname=self.host, do_handshake_on_connect=False
        )
        # Wrapping took the plain socket's file descriptor over (that socket is detached): the
        # cut must shut the TLS one, and the handshake runs after, so the cut ends it too.
        self.sock = self._hold(tls)
        tls.do_handshake()


def tls_context() -> ssl.SSLContext:
    """Certificates and host names verified against the system's CAs: OpenSSL's default
    verify paths, which the standard SSL_CERT_FILE / SSL_CERT_DIR variables override (how an
    operator trusts a private CA, and how the tests trust their throwaway certificate)."""
    return ssl.create_default_context()


def _connection(
    scheme: str, host: str, address: str, port: int, deadline: float
) -> _PinnedHTTP | _PinnedHTTPS:
    kind = _PinnedHTTPS if scheme == "https" else _PinnedHTTP
    return kind(host, address, port, deadline)


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
    while chunk := response.read1(CHUNK):  # what has arrived: a slow server cannot hold it
        size += len(chunk)
        if size > limit:  # Content-Length may be missing or wrong
            raise ApiError(413, "too_large", f"{url}: over the {limit}-byte limit", FIELD)
        chunks.append(chunk)
    if time.monotonic() >= deadline:  # the cut ended the body early
        raise _timed_out(url, settings)
    if not size:
        raise ApiError(422, "url_unreachable", f"{url}: empty response", FIELD)
    return b"".join(chunks)

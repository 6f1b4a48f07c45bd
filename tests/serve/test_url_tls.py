"""HTTPS image URLs end at `url_timeout` too (issue 23): a real TLS server on loopback, with a
throwaway self-signed certificate that the fetcher trusts through SSL_CERT_FILE (the CA file
OpenSSL's default verify paths read), so verification stays on exactly as in production.

The slow body failed before the fix (the cut shut the plain socket that TLS wrapping had
detached, so a trickled body ran its whole 10 s); the handshake tests passed before it too
(CPython bounds a whole handshake by the socket timeout) and guard the cut that now covers it."""

from __future__ import annotations

import contextlib
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mmkp.serve.errors import ApiError
from mmkp.serve.settings import ServeSettings
from mmkp.serve.urls import fetch

# Loopback is refused by the SSRF guard unless allowed, as in the plain-HTTP tests.
SETTINGS = ServeSettings(allow_urls=True, allow_private_urls=True, url_timeout=1.0)
Answer = Callable[[socket.socket, threading.Event], None]  # serves one accepted connection
PNG = b"\x89PNG\r\n\x1a\n" + b"x" * 32  # what is served: the fetcher does not decode it

pytestmark = pytest.mark.skipif(
    shutil.which("openssl") is None,
    reason="the openssl command (to make a throwaway certificate) is not installed",
)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (valid one day) and its key."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out",
         str(cert), "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def trusted(certificate, monkeypatch) -> None:
    """The test certificate is this process's only CA (read by ssl.create_default_context)."""
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)


@contextlib.contextmanager
def tls_server(certificate: tuple[Path, Path], answer: Answer) -> Iterator[str]:
    """A loopback server that hands each accepted TCP connection to `answer` (with an event
    set when the test ends); yields its https URL."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        with contextlib.suppress(OSError):  # the listener closed: the test ended
            while not stop.is_set():
                connection, _ = listener.accept()
                threading.Thread(target=answer, args=(connection, stop), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield f"https://127.0.0.1:{listener.getsockname()[1]}/image.png"
    finally:
        stop.set()
        listener.close()


def trickling(certificate: tuple[Path, Path], seconds: float) -> Answer:
    """An HTTPS answer whose body comes one byte every `seconds`."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)

    def answer(connection: socket.socket, stop: threading.Event) -> None:
        with contextlib.suppress(OSError), context.wrap_socket(connection, server_side=True) as tls:
            request = b""
            while b"\r\n\r\n" not in request:
                request += tls.recv(4096)
            tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(PNG))
            for index in range(len(PNG)):
                tls.sendall(PNG[index : index + 1])
                if stop.wait(seconds):
                    return

    return answer


def silent(connection: socket.socket, stop: threading.Event) -> None:
    """Accepts TCP and never answers the ClientHello."""
    with connection:
        stop.wait(30)


def handshake_trickling(certificate: tuple[Path, Path], seconds: float) -> Answer:
    """Answers the ClientHello with its handshake messages one byte every `seconds`: the
    socket never goes quiet long enough for a per-read timeout."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)

    def answer(connection: socket.socket, stop: threading.Event) -> None:
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = context.wrap_bio(incoming, outgoing, server_side=True)
        with connection, contextlib.suppress(OSError):
            while not (flight := outgoing.read()):  # until the whole ClientHello is in
                if not (received := connection.recv(65536)):
                    return
                incoming.write(received)
                with contextlib.suppress(ssl.SSLWantReadError):
                    tls.do_handshake()
            for byte in flight:  # about a kilobyte: a minute at this pace
                connection.sendall(bytes([byte]))
                if stop.wait(seconds):
                    return

    return answer


def timed_fetch(url: str) -> tuple[ApiError, float]:
    started = time.monotonic()
    with pytest.raises(ApiError) as caught:
        fetch(url, SETTINGS)
    return caught.value, time.monotonic() - started


def test_an_https_url_is_fetched_with_the_certificate_verified(certificate, trusted):
    with tls_server(certificate, trickling(certificate, 0.0)) as url:
        assert fetch(url, SETTINGS) == PNG


def test_an_untrusted_certificate_is_refused(certificate):
    with tls_server(certificate, trickling(certificate, 0.0)) as url:
        error, _ = timed_fetch(url)
    assert error.status == 422 and "CERTIFICATE_VERIFY_FAILED" in error.message


@pytest.mark.parametrize(
    "answer",
    [
        # 40 bytes at one byte every 0.25 s: 10 s in all (9.8 s before the fix).
        pytest.param(lambda certificate: trickling(certificate, 0.25), id="slow body"),
        pytest.param(lambda certificate: silent, id="stalled handshake"),
        pytest.param(
            lambda certificate: handshake_trickling(certificate, 0.05), id="trickled handshake"
        ),
    ],
)
def test_a_slow_https_server_is_cut_off_at_the_deadline(
    certificate, trusted, answer: Callable[[tuple[Path, Path]], Answer]
):
    with tls_server(certificate, answer(certificate)) as url:
        error, took = timed_fetch(url)
    assert error.status == 422 and error.field == "image_url", error.message
    assert error.message == f"{url}: timed out after 1.0 s"  # the 1 s url_timeout
    assert 0.9 < took < 2.5

"""Fixtures for the image pipeline: real sample photos from scikit-image, a rendered-text image,
a corpus of broken image files, and a loopback HTTP server whose answers a test scripts."""

from __future__ import annotations

import contextlib
import io
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont
from skimage import data


def photo(name: str) -> Image.Image:
    """A real photograph shipped with scikit-image (chelsea: a cat, coffee: an espresso cup)."""
    return Image.fromarray(getattr(data, name)())


def text_image(lines: list[str], size: tuple[int, int] = (320, 240)) -> Image.Image:
    """Black text on white, one line per entry, large enough for any OCR to read."""
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=30)
    for row, line in enumerate(lines):
        draw.text((20, 30 + 60 * row), line, fill="black", font=font)
    return image


def write_bad_corpus(folder: Path) -> dict[str, str]:
    """Broken inputs -> the reason each must be reported with."""
    folder.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    photo("chelsea").save(buffer, format="JPEG")
    (folder / "truncated.jpg").write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "notes.png").write_text("this is not an image\n")
    # 8000 x 6000 = 48 M pixels, over the 40 M default limit, but a tiny file.
    Image.new("1", (8000, 6000)).save(folder / "bomb.png")
    return {
        "missing.jpg": "file not found",
        "truncated.jpg": "corrupt or truncated image",
        "empty.jpg": "empty file (0 bytes)",
        "notes.png": "not an image (unknown format)",
        "bomb.png": "image is 8000x6000 = 48000000 pixels, over the 40000000-pixel limit",
    }


@pytest.fixture(scope="session")
def bad_corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    folder = tmp_path_factory.mktemp("bad")
    return folder, write_bad_corpus(folder)


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (timeouts)
    send_length: bool = True  # False: no Content-Length, the body ends when the connection closes
    trickle: float = 0.0  # seconds between body bytes: a body sent one byte at a time


@dataclass
class LoopbackServer:
    """`routes[path]` answers each request (path without query); `requests` records them."""

    url: str
    routes: dict[str, Callable[[str, bytes], Reply]] = field(default_factory=dict)
    requests: list[tuple[str, str, bytes]] = field(default_factory=list)


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    state = LoopbackServer("")
    stop = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            path, _, query = self.path.partition("?")
            state.requests.append((path, query, body))
            route = state.routes.get(path)
            reply = route(query, body) if route else Reply(404, b"not found")
            if reply.delay:
                stop.wait(reply.delay)
            self.send_response(reply.status)
            for key, value in reply.headers.items():
                self.send_header(key, value)
            if reply.send_length:
                self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            # The client may have given up (timeout or size limit), as the test intends.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                if not reply.trickle:
                    self.wfile.write(reply.body)
                for index in range(len(reply.body) if reply.trickle else 0):
                    self.wfile.write(reply.body[index : index + 1])
                    self.wfile.flush()
                    if stop.wait(reply.trickle):
                        break

        do_GET = do_POST = _answer

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield state
    stop.set()
    httpd.shutdown()
    httpd.server_close()

from __future__ import annotations

import io
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mmkp.features.images import ImageError, ImageLoadConfig, load_any, load_image, resolve

from .conftest import LoopbackServer, Reply, photo


def _pixel(image: Image.Image, xy: tuple[int, int]) -> tuple[int, ...]:
    return tuple(image.getpixel(xy))  # type: ignore[arg-type]


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF"])
def test_common_formats_load_as_rgb(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"cat.{fmt.lower()}"
    photo("chelsea").save(path, format=fmt)
    image = load_image(str(path))
    assert image.mode == "RGB"
    assert image.size == (451, 300)


def test_gif_gives_its_first_frame(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (20, 10), colour) for colour in ("red", "blue")]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    assert _pixel(load_image(str(tmp_path / "anim.gif")), (5, 5)) == (255, 0, 0)


def test_transparency_becomes_white(tmp_path: Path) -> None:
    rgba = Image.new("RGBA", (4, 4), (255, 0, 0, 0))
    rgba.putpixel((0, 0), (0, 0, 255, 255))
    rgba.save(tmp_path / "rgba.png")
    image = load_image(str(tmp_path / "rgba.png"))
    assert _pixel(image, (0, 0)) == (0, 0, 255)
    assert _pixel(image, (3, 3)) == (255, 255, 255)


def test_palette_with_transparency(tmp_path: Path) -> None:
    palette = Image.new("P", (4, 4), 0)
    palette.putpalette([0, 255, 0, 10, 20, 30] + [0] * 762)
    palette.putpixel((1, 1), 1)
    palette.save(tmp_path / "p.png", transparency=0)
    image = load_image(str(tmp_path / "p.png"))
    assert _pixel(image, (0, 0)) == (255, 255, 255)  # index 0 is transparent
    assert _pixel(image, (1, 1)) == (10, 20, 30)


def test_grayscale_cmyk_and_16_bit(tmp_path: Path) -> None:
    Image.new("L", (3, 3), 77).save(tmp_path / "grey.png")
    Image.new("CMYK", (3, 3), (0, 255, 255, 0)).save(tmp_path / "cmyk.jpg")
    Image.new("I;16", (3, 3), 65535).save(tmp_path / "deep.png")
    assert _pixel(load_image(str(tmp_path / "grey.png")), (1, 1)) == (77, 77, 77)
    red = _pixel(load_image(str(tmp_path / "cmyk.jpg")), (1, 1))
    assert red[0] > 240 and red[1] < 15 and red[2] < 15
    assert _pixel(load_image(str(tmp_path / "deep.png")), (1, 1)) == (255, 255, 255)


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    wide = Image.new("RGB", (40, 20), "white")
    wide.paste((255, 0, 0), (0, 0, 10, 20))  # red band on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    wide.save(tmp_path / "rotated.jpg", exif=exif, quality=95)
    image = load_image(str(tmp_path / "rotated.jpg"))
    assert image.size == (20, 40)
    top = _pixel(image, (10, 2))
    assert top[0] > 200 and top[1] < 60  # the left band is now on top


def test_tiny_image(tmp_path: Path) -> None:
    Image.new("RGB", (1, 1), (1, 2, 3)).save(tmp_path / "dot.png")
    image = load_image(str(tmp_path / "dot.png"))
    assert image.size == (1, 1) and _pixel(image, (0, 0)) == (1, 2, 3)


def test_bad_corpus_each_error(bad_corpus: tuple[Path, dict[str, str]]) -> None:
    folder, reasons = bad_corpus
    for name, reason in reasons.items():
        with pytest.raises(ImageError) as caught:
            load_image(str(folder / name))
        assert caught.value.reason.startswith(reason), (name, caught.value.reason)
        assert str(caught.value).startswith(str(folder / name))


def test_resolve_relative_absolute_and_url(tmp_path: Path) -> None:
    assert resolve("images/a.jpg", tmp_path) == str(tmp_path / "images/a.jpg")
    assert resolve("/abs/a.jpg", tmp_path) == "/abs/a.jpg"
    assert resolve("https://x.org/a.jpg", tmp_path) == "https://x.org/a.jpg"


def _png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 6), (9, 8, 7)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_url_loads_from_loopback_server(server: LoopbackServer) -> None:
    server.routes["/a.png"] = lambda query, body: Reply(body=_png_bytes())
    image = load_image(f"{server.url}/a.png")
    assert image.size == (8, 6) and _pixel(image, (0, 0)) == (9, 8, 7)


def test_url_errors(server: LoopbackServer) -> None:
    big = b"\x89PNG" + b"0" * 5000
    server.routes["/big.png"] = lambda q, b: Reply(body=big)
    server.routes["/slow.png"] = lambda q, b: Reply(body=_png_bytes(), delay=2.0)
    config = ImageLoadConfig(max_bytes=1000, url_timeout=0.5)
    cases = {
        "/nothing.png": "HTTP 404",
        "/big.png": "download is 5004 bytes, over the 1000-byte limit",
        "/slow.png": "download failed: timed out",
    }
    for path, reason in cases.items():
        with pytest.raises(ImageError) as caught:
            load_image(server.url + path, config)
        assert caught.value.reason.startswith(reason), (path, caught.value.reason)
    with pytest.raises(ImageError, match="URLs are disabled"):
        load_image(f"{server.url}/a.png", ImageLoadConfig(allow_urls=False))


def test_download_limit_without_content_length(server: LoopbackServer) -> None:
    # No Content-Length header: the limit must hold while reading, not only from the header.
    body = _png_bytes() + b"\0" * 3000
    server.routes["/unsized.png"] = lambda q, b: Reply(body=body, send_length=False)
    with pytest.raises(ImageError) as caught:
        load_image(f"{server.url}/unsized.png", ImageLoadConfig(max_bytes=1000))
    assert caught.value.reason == "download is over the 1000-byte limit"


def test_pixels_match_source(tmp_path: Path) -> None:
    source = photo("coffee")
    source.save(tmp_path / "coffee.png")
    assert np.array_equal(np.asarray(load_image(str(tmp_path / "coffee.png"))), np.asarray(source))


def _dds_without_pixel_format() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 12), "red").save(buffer, format="DDS")
    data = bytearray(buffer.getvalue())
    data[80:84] = b"\0\0\0\0"  # DDS_PIXELFORMAT.dwFlags
    return bytes(data)


@pytest.mark.parametrize(
    ("data", "raised_before"),
    [
        (b"P6", "ValueError from Image.open (PPM header ends early)"),
        (b"#define i", "ValueError from Image.open (XBM)"),
        (b"Image type: RGB image\r\nImage size (x*y):", "ValueError from Image.open (IM)"),
        (_dds_without_pixel_format(), "NotImplementedError from Image.open (DDS)"),
        (b"\xff\xd8\xff\xe0 truncated", "OSError (JPEG cut inside its header)"),
    ],
)
def test_whatever_a_decoder_raises_is_the_images_error(data: bytes, raised_before: str) -> None:
    with pytest.raises(ImageError) as caught:
        load_any(data)
    assert caught.value.reason.startswith("corrupt or truncated image ("), raised_before


def test_a_still_image_that_cannot_seek_loads(tmp_path: Path) -> None:
    Image.new("F", (6, 4), 90.0).save(tmp_path / "still.spider", format="SPIDER")
    assert load_image(str(tmp_path / "still.spider")).size == (6, 4)  # EOFError from seek(0)


def _png_header(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def test_bomb_headers_are_refused_without_pillows_warning() -> None:
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with pytest.raises(ImageError, match="10000x10000 = 100000000 pixels, over the"):
            load_any(_png_header(10_000, 10_000))  # over our limit, under Pillow's: it warns
        with pytest.raises(ImageError, match="decompression-bomb guard"):
            load_any(_png_header(20_000, 20_000))  # over Pillow's: DecompressionBombError
    assert [str(w.message) for w in seen] == []


def test_a_folder_is_not_reported_as_a_missing_file(tmp_path: Path) -> None:
    (tmp_path / "photo.jpg").mkdir()
    with pytest.raises(ImageError) as caught:
        load_image(str(tmp_path / "photo.jpg"))
    assert caught.value.reason == "is a folder, not an image file"
    with pytest.raises(ImageError, match="cannot read the file"):
        load_image("x" * 5000 + ".jpg")  # a name too long for the file system

"""Load what users have as images: local files, http(s) URLs, encoded bytes or Pillow images, any
common format, as RGB.

Every failure is an `ImageError` whose message names the image and the problem, so a
per-post error log (`errors.jsonl`) can say exactly why a post has no image features.
"""

from __future__ import annotations

import io
import threading
import urllib.error
import urllib.request
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

WHITE = (255, 255, 255)
# Held while a caller's Pillow image is read: a lazily opened image decodes on first use from
# one shared file handle, which two threads must not drive at once (Pillow closes it after).
_CALLER_IMAGE_LOCK = threading.Lock()


class ImageError(ValueError):
    """An image that cannot be used: `ref` names it, `reason` says why (one line)."""

    def __init__(self, ref: str, reason: str):
        self.ref = ref
        self.reason = reason
        super().__init__(f"{ref}: {reason}")


@dataclass(frozen=True)
class ImageLoadConfig:
    """Limits that keep one bad or hostile image from stalling or exhausting a run."""

    max_pixels: int = 40_000_000  # decompression-bomb guard: width * height before decoding
    max_bytes: int = 20_000_000  # size limit for downloads (and local files)
    url_timeout: float = 10.0  # seconds, per connection attempt and read
    allow_urls: bool = True


def resolve(ref: str, base_dir: Path) -> str:
    """An image reference from a JSONL record as a loadable location.

    URLs and absolute paths stay as they are; relative paths are relative to `base_dir`
    (the JSONL file's folder, or `--images DIR`).
    """
    if is_url(ref) or Path(ref).is_absolute():
        return ref
    return str(base_dir / ref)


def is_url(ref: str) -> bool:
    return ref.startswith(("http://", "https://"))


def read_bytes(ref: str, config: ImageLoadConfig) -> bytes:
    """The raw bytes of a file or URL, refusing anything over `config.max_bytes`."""
    if is_url(ref):
        if not config.allow_urls:
            raise ImageError(ref, "image URLs are disabled")
        return _download(ref, config)
    path = Path(ref)
    try:
        if path.is_dir():
            raise ImageError(ref, "is a folder, not an image file")
        if not path.is_file():
            raise ImageError(ref, "file not found")
        _check_size(ref, path.stat().st_size, "file", config)
        return path.read_bytes()
    except OSError as exc:  # permissions, a name too long, a file removed meanwhile, I/O
        raise ImageError(ref, f"cannot read the file ({exc.strerror or exc})") from exc


def _check_size(ref: str, size: int, kind: str, config: ImageLoadConfig) -> None:
    """Refuse empty inputs and those over `config.max_bytes`; `kind` names them ("file")."""
    if size == 0:
        raise ImageError(ref, f"empty {kind} (0 bytes)")
    if size > config.max_bytes:
        raise ImageError(ref, f"{kind} is {size} bytes, over the {config.max_bytes}-byte limit")


def _download(url: str, config: ImageLoadConfig) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": "mmkp-prepare"})
    try:
        with urllib.request.urlopen(request, timeout=config.url_timeout) as response:
            declared = response.headers.get("Content-Length")
            if declared is not None and declared.isdigit() and int(declared) > config.max_bytes:
                raise ImageError(
                    url, f"download is {declared} bytes, over the {config.max_bytes}-byte limit"
                )
            # Read one byte past the limit: servers may omit or understate Content-Length.
            data = response.read(config.max_bytes + 1)
    except urllib.error.HTTPError as exc:
        raise ImageError(url, f"HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ImageError(url, f"download failed: {reason}") from exc
    if len(data) > config.max_bytes:
        raise ImageError(url, f"download is over the {config.max_bytes}-byte limit")
    if not data:
        raise ImageError(url, "empty download (0 bytes)")
    return data


def decode(data: bytes, ref: str, config: ImageLoadConfig) -> Image.Image:
    """Bytes -> upright RGB image (first frame of animations, transparency over white).

    Whatever a decoder raises for one file (Pillow's plugins raise OSError, SyntaxError,
    ValueError, EOFError, struct.error, NotImplementedError, ... from `open` as well as from
    `load`) becomes that image's ImageError, and its warnings (decompression bombs, corrupt
    EXIF) stay here: our own pixel limit and the error replace them.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return _decode(data, ref, config)
        except ImageError:
            raise
        except UnidentifiedImageError as exc:
            raise ImageError(ref, "not an image (unknown format)") from exc
        except Image.DecompressionBombError as exc:
            # Pillow refuses headers over twice its own limit before ours can be checked.
            raise ImageError(ref, f"{exc} (decompression-bomb guard)") from exc
        except Exception as exc:
            reason = str(exc) or type(exc).__name__
            raise ImageError(ref, f"corrupt or truncated image ({reason})") from exc


def _decode(data: bytes, ref: str, config: ImageLoadConfig) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    width, height = image.size
    if width * height > config.max_pixels:
        raise ImageError(
            ref,
            f"image is {width}x{height} = {width * height} pixels, over the "
            f"{config.max_pixels}-pixel limit (decompression-bomb guard)",
        )
    if getattr(image, "is_animated", False):
        image.seek(0)  # the first frame (a still image may refuse to seek at all)
    image.load()
    return to_rgb(ImageOps.exif_transpose(image))


def to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode -> RGB; transparent pixels become white, as a viewer shows them."""
    if image.mode == "RGB":
        return image
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        canvas = Image.new("RGB", rgba.size, WHITE)
        canvas.paste(rgba, mask=rgba.getchannel("A"))
        return canvas
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16/32-bit greyscale: scale to 8 bits instead of clipping everything to white.
        image = image.point(lambda v: v / 256).convert("L")
    return image.convert("RGB")


def load_image(ref: str, config: ImageLoadConfig | None = None) -> Image.Image:
    """Load one image (path or URL) as upright RGB; raises ImageError naming the problem."""
    config = config or ImageLoadConfig()
    return decode(read_bytes(ref, config), ref, config)


ImageSource = str | Path | bytes | Image.Image


def load_any(image: ImageSource, config: ImageLoadConfig | None = None) -> Image.Image:
    """A path, URL, encoded bytes or Pillow image as upright RGB; raises ImageError naming it.

    Bytes get a file's checks (size limit, decoding, EXIF, RGB), so an upload is read exactly
    like the same file on disk. A Pillow image becomes a private copy (`from_pil`).
    """
    config = config or ImageLoadConfig()
    if isinstance(image, Image.Image):
        return from_pil(image)
    if isinstance(image, bytes):
        ref = f"<{len(image)} bytes>"
        _check_size(ref, len(image), "image", config)
        return decode(image, ref, config)
    if isinstance(image, str | Path):
        return load_image(str(image), config)
    raise TypeError(f"expected a path, URL, bytes or PIL image, got {type(image).__name__}")


def from_pil(image: Image.Image) -> Image.Image:
    """The caller's Pillow image (any mode, maybe lazily opened and shared between threads) as
    a private, fully loaded, upright RGB copy, so it reads like the same file decoded.

    OCR and the CNN read the image on different threads: a lazy `Image.open(path)` read by both
    decoded twice at once, which left one reader blank or failed on Pillow's closed file
    handle. The load and the copy run under one lock; everything after reads only the copy.
    """
    ref = f"<PIL image {image.mode} {image.width}x{image.height}>"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # corrupt EXIF: the image itself is still usable
        try:
            with _CALLER_IMAGE_LOCK:
                upright = ImageOps.exif_transpose(image)  # loads, always a new image
        except Exception as exc:
            reason = str(exc) or type(exc).__name__
            raise ImageError(ref, f"corrupt or truncated image ({reason})") from exc
    assert upright is not None  # not in place: a new image
    return to_rgb(upright)

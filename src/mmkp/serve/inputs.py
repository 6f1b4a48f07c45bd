"""Requests -> raw posts (`RawPost`), in memory: the body under its size and time limits, JSON
or forms (their field count checked before parsing, parsed off the event loop), the text
limit, and the image (base64, upload or URL) checked for size, type and pixels and decoded like
a file on disk (`mmkp.features.images.decode`). The text is normalised once, by the predictor
in the batcher (`Predictor.load_post`), which refuses text without words."""

from __future__ import annotations

import asyncio
import base64
import binascii
import io
import re
from urllib.parse import parse_qsl

from PIL import Image, UnidentifiedImageError
from pydantic import ValidationError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from mmkp.features.images import ImageError, ImageLoadConfig, decode
from mmkp.inference.predictor import RawPost
from mmkp.serve import decode_fields
from mmkp.serve.errors import ApiError, from_validation
from mmkp.serve.schemas import KeyphraseRequest, PostIn
from mmkp.serve.settings import ServeSettings

FORM_FIELDS = ("text", "id", *decode_fields.FIELDS)


async def read_body(request: Request, settings: ServeSettings) -> bytes:
    """The whole body, refused (413 `body`) as soon as it passes `max_body_bytes`, and (408)
    when it has not all arrived `body_timeout` seconds after the request began."""
    limit = settings.max_body_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ApiError(413, "too_large", f"the body is {declared} bytes, over {limit}", "body")
    chunks, size = [], 0
    try:
        async with asyncio.timeout(settings.body_timeout):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    message = f"the body is over the {limit}-byte limit"
                    raise ApiError(413, "too_large", message, "body")
                chunks.append(chunk)
    except TimeoutError as exc:
        message = f"the body did not arrive in {settings.body_timeout} s ({size} bytes came)"
        raise ApiError(408, "timeout", message, "body", {"Connection": "close"}) from exc
    return b"".join(chunks)


MULTIPART = "multipart/form-data"
URLENCODED = "application/x-www-form-urlencoded"


def media_type(request: Request) -> str:
    """The body's media type: JSON, a multipart form or an url-encoded form (415 otherwise,
    a missing Content-Type too: a web page can send one without asking the server first)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/json" or kind.endswith("+json"):
        return "application/json"
    if kind in (MULTIPART, URLENCODED):
        return kind
    given = kind or "no Content-Type header"
    message = f"send application/json, {MULTIPART} or {URLENCODED}, not {given}"
    raise ApiError(415, "unsupported_media_type", message, "body")


def parse_form(
    body: bytes, content_type: str, kind: str, settings: ServeSettings
) -> tuple[KeyphraseRequest, bytes | None]:
    """A form body: fields `text`, `id`, the decode settings (`top_k`, `beam_size`, ...) and
    (multipart) file `image`; no more than `max_form_fields` of them, counted before parsing
    (blocking on a large body: run it in a thread)."""
    if kind == URLENCODED:
        if body.lstrip().startswith(b"{"):
            raise ApiError(415, "unsupported_media_type", "the body looks like JSON: send it "
                           "with Content-Type: application/json", "body")  # fmt: skip
        _check_field_count(body.count(b"&") + 1, settings)
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError as exc:
            raise ApiError(422, "invalid", "form fields must be UTF-8 text", "body") from exc
        _no_repeats([name for name, _ in pairs])
        parts = {name: (None, value.encode()) for name, value in pairs}
    else:
        _, options = parse_options_header(content_type)
        boundary = options.get(b"boundary")
        if not boundary:
            raise ApiError(400, "malformed_form", "multipart body without a boundary", "body")
        # Each part starts with the boundary after CR LF (the first may start the body).
        _check_field_count(len(re.findall(b"(?:^|\r\n)--" + re.escape(boundary), body)) - 1,
                           settings)  # fmt: skip
        parts = _multipart_parts(body, boundary)
    accepted = {*FORM_FIELDS, "image"} if kind == MULTIPART else set(FORM_FIELDS)
    unknown = sorted(set(parts) - accepted)
    if unknown:
        raise ApiError(422, "invalid", f"unknown form field {unknown[0]!r}", unknown[0])
    return _form_request(parts), parts.get("image", (None, b""))[1] or None


def _check_field_count(count: int, settings: ServeSettings) -> None:
    if count > settings.max_form_fields:
        message = f"the form has {count} fields, over the limit of {settings.max_form_fields}"
        raise ApiError(413, "too_large", message, "body")


def _form_request(parts: dict[str, tuple[str | None, bytes]]) -> KeyphraseRequest:
    """The form's fields as the JSON request (numbers converted from their text)."""
    try:
        fields: dict[str, object] = {
            k: parts[k][1].decode("utf-8") for k in FORM_FIELDS if k in parts
        }
    except UnicodeDecodeError as exc:
        raise ApiError(422, "invalid", "form fields must be UTF-8 text", "body") from exc
    for name in decode_fields.FIELDS:
        if name in fields:
            try:
                fields[name] = decode_fields.form_value(name, str(fields[name]))
            except ValueError as exc:
                raise ApiError(422, "invalid", str(exc), name) from exc
    try:
        return KeyphraseRequest.model_validate(fields)
    except ValidationError as exc:
        raise from_validation(list(exc.errors())) from exc


def _multipart_parts(body: bytes, boundary: bytes) -> dict[str, tuple[str | None, bytes]]:
    """Form parts by name: (content type, data). Everything stays in memory."""
    parts: dict[str, tuple[str | None, bytes]] = {}
    names: list[str] = []
    empty_files: list[str] = []
    headers: dict[bytes, bytes] = {}
    field, value, data = bytearray(), bytearray(), bytearray()

    def header_end() -> None:
        headers[bytes(field).lower()] = bytes(value)
        field.clear(), value.clear()

    def part_end() -> None:
        _, options = parse_options_header(headers.get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        kind = headers.get(b"content-type")
        names.append(name)
        if options.get(b"filename") and not data:
            empty_files.append(name)  # a file of 0 bytes, not a form with no file chosen
        parts[name] = (None if kind is None else kind.decode("latin-1"), bytes(data))
        headers.clear(), data.clear()

    parser = MultipartParser(
        boundary,
        {
            "on_header_field": lambda d, s, e: field.extend(d[s:e]),
            "on_header_value": lambda d, s, e: value.extend(d[s:e]),
            "on_header_end": header_end,
            "on_part_data": lambda d, s, e: data.extend(d[s:e]),
            "on_part_end": part_end,
        },
    )
    try:
        parser.write(body)
        parser.finalize()
    except Exception as exc:  # python-multipart raises its own parse errors
        raise ApiError(400, "malformed_form", f"malformed multipart body: {exc}", "body") from exc
    _no_repeats(names)
    if "image" in empty_files:
        raise ApiError(422, "invalid", "the uploaded image is empty (0 bytes)", "image")
    return parts


def _no_repeats(names: list[str]) -> None:
    """A form field given twice (how a form sends a list) is refused, not half read."""
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ApiError(422, "invalid", f"form field {name!r} given more than once", name)
        seen.add(name)


def check_text(post: PostIn, settings: ServeSettings) -> None:
    if len(post.text) > settings.max_text_chars:
        raise ApiError(
            422,
            "too_long",
            f"text is {len(post.text)} characters, over the {settings.max_text_chars} limit",
            "text",
        )
    if post.image_url is not None and post.image_base64 is not None:
        raise ApiError(422, "invalid", "give image_url or image_base64, not both", "image_url")


def image_bytes(post: PostIn, settings: ServeSettings) -> tuple[bytes, str] | None:
    """The post's inline (base64) image and its field; a URL's bytes come as an upload."""
    if post.image_base64 is not None:
        limit = settings.max_image_bytes
        if len(post.image_base64) > (limit + 2) // 3 * 4 + 4:  # base64 of `limit` bytes
            raise ApiError(413, "too_large", f"image over the {limit}-byte limit", "image_base64")
        text = post.image_base64
        if text.startswith("data:"):  # a data: URL as a browser's FileReader gives it
            text = text.partition(",")[2]
        try:
            return base64.b64decode(text, validate=True), "image_base64"
        except (binascii.Error, ValueError) as exc:
            raise ApiError(422, "invalid", f"not base64: {exc}", "image_base64") from exc
    return None


def load_image(data: bytes, field: str, settings: ServeSettings) -> Image.Image:
    """Encoded bytes -> upright RGB, after the byte, format and pixel limits (4xx `field`)."""
    if not data:
        raise ApiError(422, "invalid", "the image is empty (0 bytes)", field)
    if len(data) > settings.max_image_bytes:
        raise ApiError(
            413,
            "too_large",
            f"image is {len(data)} bytes, over the {settings.max_image_bytes}-byte limit",
            field,
        )
    try:
        with Image.open(io.BytesIO(data)) as probe:  # reads the header only
            kind, (width, height) = probe.format, probe.size
    except Image.DecompressionBombError as exc:  # Pillow's own guard, past twice its limit
        size = re.search(r"\((\d+) pixels\)", str(exc))
        pixels = f"{size.group(1)} pixels" if size else "too many pixels"
        message = f"image has {pixels}, over the {settings.max_image_pixels}-pixel limit"
        raise ApiError(413, "too_large", message, field) from exc
    except (UnidentifiedImageError, OSError) as exc:
        raise ApiError(415, "unsupported_type", f"not a readable image: {exc}", field) from exc
    if kind not in settings.formats:
        accepted = ", ".join(sorted(settings.formats))
        raise ApiError(
            415, "unsupported_type", f"{kind} images are not accepted ({accepted})", field
        )
    if width * height > settings.max_image_pixels:
        raise ApiError(
            413,
            "too_large",
            f"image is {width}x{height} pixels, over the {settings.max_image_pixels}-pixel limit",
            field,
        )
    config = ImageLoadConfig(
        max_pixels=settings.max_image_pixels, max_bytes=settings.max_image_bytes
    )
    try:
        return decode(data, f"<{field}>", config)
    except ImageError as exc:
        raise ApiError(422, "invalid", f"corrupt image: {exc.reason}", field) from exc


def raw_post(post: PostIn, upload: tuple[bytes, str] | None, settings: ServeSettings) -> RawPost:
    """The post checked against the limits and its image decoded in memory (blocking: run it
    in a thread); `upload` is a multipart file or a downloaded `image_url` (`urls.Downloads`)
    and its field name. The text is normalised once, by the predictor (`Predictor.load_post`,
    in the batcher)."""
    check_text(post, settings)
    image = upload or image_bytes(post, settings)
    decoded = None if image is None else load_image(image[0], image[1], settings)
    return RawPost(post.text, decoded, post.id or "")


def image_field(post: PostIn, upload: tuple[bytes, str] | None) -> str:
    """The field a post's image came in."""
    if upload is not None:
        return upload[1]
    return "image_url" if post.image_url is not None else "image_base64"

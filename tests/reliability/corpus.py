"""A generated corpus of what a hostile or careless user sends: images, JSONL records,
benchmark text lines, checkpoints, prediction files. Everything is made here by code, small
and deterministic; each bad input carries the words its error must contain.

    images(folder)            -> {file name: expected reason}   (one is a folder)
    jsonl_lines()             -> good and bad JSONL lines       (BadLine.problem: the error)
    ocr_kw_lines(), cmkp_lines(), trc_lines()
    checkpoint_damage()       -> {name: (damage(directory), expected message)}
"""

from __future__ import annotations

import io
import json
import random
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image
from safetensors.torch import load_file, save_file

from mmkp.data.formats.ocr_kw import SEP

# -- images ------------------------------------------------------------------------------


def _saved(fmt: str, mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, (16, 12), (200, 10, 10) if mode == "RGB" else 90).save(buffer, format=fmt)
    return buffer.getvalue()


def _png_claiming(width: int, height: int) -> bytes:
    """A small PNG whose header (CRC fixed up) claims width x height pixels."""
    data = bytearray(_saved("PNG"))
    data[16:24] = struct.pack(">II", width, height)  # IHDR's first two fields
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))  # IHDR's CRC
    return bytes(data)


def _dds_without_pixel_format() -> bytes:
    data = bytearray(_saved("DDS"))
    data[80:84] = b"\0\0\0\0"  # DDS_PIXELFORMAT.dwFlags: Pillow raises NotImplementedError
    return bytes(data)


CORRUPT, UNKNOWN = "corrupt or truncated image", "not an image (unknown format)"


def bad_images() -> dict[str, tuple[bytes | None, str]]:
    """File name -> (content, the start of the reason it must be refused with); None: a
    folder of that name. The comments say what escaped the loader before."""
    half = _saved("JPEG")
    return {
        "header-cut.jpg": (b"\xff\xd8\xff\xe0 truncated", CORRUPT),
        "half.jpg": (half[: len(half) // 2], CORRUPT),
        "eof-in-header.ppm": (b"P6", CORRUPT),  # ValueError from Image.open
        "xbm-header.xbm": (b"#define i", CORRUPT),  # ValueError from Image.open
        "im-header.im": (b"Image type: RGB image\r\nImage size (x*y):", CORRUPT),  # ValueError
        "no-pixel-format.dds": (_dds_without_pixel_format(), CORRUPT),  # NotImplementedError
        # Over Pillow's own limit: DecompressionBombError before our check can run.
        "bomb-over-pillow.png": (_png_claiming(20_000, 20_000), "Image size (400000000 pixels)"),
        # Over ours but under Pillow's: Pillow warns (DecompressionBombWarning), we refuse.
        "bomb.png": (_png_claiming(10_000, 10_000), "image is 10000x10000 = 100000000 pixels"),
        "empty.jpg": (b"", "empty file (0 bytes)"),
        "notes.png": (b"this is not an image\n", UNKNOWN),
        "noise.bin": (random.Random(9).randbytes(3000), UNKNOWN),
        "folder.jpg": (None, "is a folder, not an image file"),
        "missing.jpg": (b"", "file not found"),  # not written: see write_images
    }


def good_images() -> dict[str, bytes]:
    """Valid images in formats a loader may stumble on."""
    return {
        "still.spider": _saved("SPIDER", "F"),  # refused to seek(0): EOFError before
        "plain.png": _saved("PNG"),
        "grey.tif": _saved("TIFF", "L"),
    }


def write_images(folder: Path) -> dict[str, str]:
    """Write bad and good images into `folder`; returns {name: expected reason} for the bad
    ones ("" for good ones)."""
    folder.mkdir(parents=True, exist_ok=True)
    expected = {}
    for name, (content, reason) in bad_images().items():
        if content is None:
            (folder / name).mkdir(exist_ok=True)
        elif name != "missing.jpg":
            (folder / name).write_bytes(content)
        expected[name] = reason
    for name, content in good_images().items():
        (folder / name).write_bytes(content)
        expected[name] = ""
    return expected


# -- posts -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """One line of a posts file: its bytes, and `problem` (the error it must give) when bad;
    `post_id` names the post a good line gives."""

    raw: bytes
    problem: str | None = None
    post_id: str | None = None


def _json(obj: object) -> bytes:
    return json.dumps(obj).encode("utf-8")


def _good(post_id: str, **fields: object) -> Line:
    obj = {"id": post_id, "text": f"post number {post_id} about the kca awards", **fields}
    return Line(_json(obj), post_id=post_id)


def jsonl_lines() -> list[Line]:
    """Good posts (some in unusual but valid forms) between every kind of bad line."""
    text = "a post"
    return [
        _good("g1", keyphrases=["kca"]),
        Line(_json({"id": "b1", "text": None}), "field 'text' must be a string, got null"),
        Line(_json({"id": "b2"}), "missing required field 'text'"),
        Line(_json({"id": "b3", "text": 42}), "field 'text' must be a string, got 42"),
        Line(_json({"id": "b4", "text": "   "}), "field 'text' (the post) is empty"),
        Line(_json({"text": text}), "missing required field 'id'"),
        Line(_json({"id": None, "text": text}), "field 'id' must be a string or integer"),
        Line(_json({"id": True, "text": text}), "field 'id' must be a string or integer"),
        Line(_json({"id": 1.5, "text": text}), "field 'id' must be a string or integer"),
        Line(_json({"id": "", "text": text}), "field 'id' is empty"),
        _good("g2", image="", ocr=None, entities=None, keyphrases=None, match=None),
        Line(_json({"id": "b5", "text": text, "image": 5}), "field 'image' must be a string"),
        Line(_json({"id": "b6", "text": text, "keyphrases": "kca"}), "'keyphrases' must be a"),
        Line(_json({"id": "b7", "text": text, "keyphrases": ["", "x"]}), "blank keyphrase"),
        Line(_json({"id": "b8", "text": text, "keyphrases": [1]}), "list of strings"),
        Line(_json({"id": "b9", "text": text, "entities": "cat"}), "'entities' must be a list"),
        Line(_json({"id": "b10", "text": text, "entities": [{"name": 3}]}), "entity must be"),
        Line(_json({"id": "b11", "text": text, "match": 1.5}), "'match' must be a probability"),
        Line(b'{"id": "b12", "text": "t", "match": NaN}', "'match' must be a probability"),
        Line(_json({"id": "b13", "text": text, "match": True}), "'match' must be a probability"),
        Line(_json({"id": "b14", "text": text, "ocr": ["x"]}), "'ocr' must be a string"),
        Line(_json([1, 2]), "expected a JSON object, got list"),
        Line(b'"just a string"', "expected a JSON object, got str"),
        Line(b"{not json", "Expecting property name"),
        Line(b"[" * 100_000, "JSON nested too deeply"),
        Line(b'{"id": "b15", "text": "caf\xe9"}', "not valid UTF-8"),
        Line(b'{"id": "b16", "text": "x", "match": 1' + b"0" * 5000 + b"}", "digits"),
        _good("g3", entities=[{"name": "stage", "score": 0.5}], text="line\u2028separator"),
        Line(_json({"id": "g1", "text": "a repeated id"}), "post id 'g1' repeated"),
        _good("g4", image="pics/none.jpg"),
        Line(b"   "),  # blank lines are no posts, and no errors
    ]


def jsonl_file(path: Path, lines: list[Line], *, bom: bool = True, crlf: bool = True) -> Path:
    """The lines as a file, with a BOM and Windows line endings (both valid)."""
    end = b"\r\n" if crlf else b"\n"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + b"".join(line.raw + end for line in lines))
    return path


def ocr_kw_lines() -> list[Line]:
    def line(text: str, kps: str = "kca", tensor: str = "tensor([[0.1, 0.9]])", label="1"):
        fields = [f"{text} <seg>   <seg> stage", kps, "a.jpg", tensor, label, "stage"]
        return SEP.join(fields).encode("utf-8")

    return [
        Line(line("the kca awards"), post_id="posts-1"),
        Line(line("x").replace(b"<sep>a.jpg", b""), "expected 6 '<sep>'-separated fields"),
        Line(line("x", tensor="tensor([[oops]])"), "field 3 must look like"),
        Line(line("x", label="7"), "field 4 (match label) must be 0 or 1"),
        Line(line("x", kps=" ; "), "field 1 (keyphrases) is empty"),
        Line(line(""), "field 'text' (the post) is empty"),
        Line(line("caf").replace(b"caf", b"caf\xe9"), "not valid UTF-8"),
        Line(line("rain in london"), post_id="posts-8"),
    ]


def cmkp_lines() -> list[Line]:
    return [
        Line(b"so excited at kca !<sep>kca<sep>a.jpg", post_id="posts-1"),
        Line(b"two fields only<sep>kca", "expected 'POST<sep>KEYPHRASES<sep>IMAGE'"),
        Line(b" <sep>kca<sep>a.jpg", "the post text (field 0) is empty"),
        Line(b"no keyphrases<sep> ; <sep>a.jpg", "field 1 (keyphrases) is empty"),
        Line(b"last post<sep>kp<sep>", post_id="posts-5"),
    ]


TRC_HEADER = (
    '"tweet_id","user_id","tweet","text_is_represented","image_adds","image_adds_text_repr",'
    '"image_adds_text_notrepr","image_notadds_text_repr","image_notadds_text_notrepr"'
)


def trc_lines() -> list[Line]:
    def row(tweet_id: str, flag: str = "1") -> bytes:
        return f'"{tweet_id}","7","a tweet about {tweet_id}","1","{flag}","1","0","0","0"'.encode()

    return [
        Line(TRC_HEADER.encode()),
        Line(row("11"), post_id="11"),
        Line(row("x12"), "tweet_id must be a number"),
        Line(row("13", flag="2"), "column 'image_adds' must be 0 or 1"),
        Line(b'"14","9","too few","0"', "expected 9 columns"),
        Line(row("11"), "post id '11' repeated"),
        Line(row("15"), post_id="15"),
    ]


def text_file(path: Path, lines: list[Line]) -> Path:
    """Benchmark text lines as a file starting with a BOM."""
    path.write_bytes(b"\xef\xbb\xbf" + b"".join(line.raw + b"\n" for line in lines))
    return path


# -- checkpoints -------------------------------------------------------------------------

Damage = Callable[[Path], None]


def _edit_config(edit: Callable[[dict], None]) -> Damage:
    def damage(directory: Path) -> None:
        config = json.loads((directory / "config.json").read_text())
        edit(config)
        (directory / "config.json").write_text(json.dumps(config))

    return damage


def _write(name: str, content: bytes | Callable[[bytes], bytes]) -> Damage:
    def damage(directory: Path) -> None:
        path = directory / name
        path.write_bytes(content(path.read_bytes()) if callable(content) else content)

    return damage


def _one_more(key: str) -> Callable[[bytes], bytes]:
    """A vocab.json / labels.json with one entry more than the weights were trained with."""

    def edit(raw: bytes) -> bytes:
        saved = json.loads(raw)
        saved[key].append("zzz extra")
        return json.dumps(saved).encode()

    return edit


def _nan_weights(directory: Path) -> None:
    path = directory / "model.safetensors"
    tensors = load_file(str(path))
    name = sorted(key for key, value in tensors.items() if value.is_floating_point())[0]
    tensors[name][0] = float("nan")
    save_file(tensors, str(path))


def _drop(name: str) -> Damage:
    return lambda directory: (directory / name).unlink()


def checkpoint_damage() -> dict[str, tuple[Damage, str]]:
    """How a checkpoint directory gets damaged -> words its load error must contain."""
    return {
        "config missing a size": (
            _edit_config(lambda c: c["model"].pop("hidden_size")),
            "config.json lacks model.hidden_size, so library defaults were used",
        ),
        "config not json": (_write("config.json", b"{'model': oops"), "config.json: not valid"),
        "config a list": (_write("config.json", b"[1, 2]"), "expected a JSON object, got list"),
        "config without model": (
            _edit_config(lambda c: c.pop("model")),
            "config.json: no 'model' section",
        ),
        "weights truncated": (
            _write("model.safetensors", lambda raw: raw[: len(raw) // 2]),
            "model.safetensors: not a readable safetensors file",
        ),
        "weights garbled": (
            _write("model.safetensors", random.Random(3).randbytes(4000)),
            "model.safetensors: not a readable safetensors file",
        ),
        "weights empty": (_write("model.safetensors", b""), "not a readable safetensors file"),
        "weights with NaN": (_nan_weights, "holds NaN or infinite values"),
        "vocab of another model": (_write("vocab.json", _one_more("words")), "vocab.json has"),
        "labels of another model": (
            _write("labels.json", _one_more("keyphrases")),
            "labels.json has",
        ),
        "vocab not json": (_write("vocab.json", b"\x00\x01"), "vocab.json: not a JSON"),
        "labels missing": (_drop("labels.json"), "not a checkpoint directory (no labels.json)"),
    }

"""Pictures for the generated data: rendered keyphrase text, drawn objects and sample photos.

Everything is drawn from a `random.Random`, so the same seed gives the same pixels. Drawn
objects differ in shape, colour and layout so that a CNN's 7x7 grid tells them apart; the
photos are scikit-image's sample photos (shipped inside its wheel), randomly cropped, flipped
and brightened, so that an ImageNet classifier names meaningful entities for them.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from functools import cache
from importlib import resources

from PIL import Image, ImageDraw, ImageEnhance, ImageFont

from mmkp.data.batch import GRID_SIDE

Size = tuple[int, int]
RGB = tuple[int, int, int]
Box = tuple[float, float, float, float]  # left, top, right, bottom in image pixels

# Photo objects: name -> file inside the scikit-image package's data folder.
PHOTO_FILES = {
    "coffee": "coffee.png",
    "horse": "horse.png",
    "motorcycle": "motorcycle_left.png",
    "cat": "chelsea.png",
    "rocket": "rocket.jpg",
}


def _muted(rng: random.Random, low: int, high: int) -> RGB:
    """A greyish colour: backgrounds must not carry the strong colours objects are told by."""
    base = rng.randint(low, high)
    red, green, blue = (min(255, max(0, base + rng.randint(-18, 18))) for _ in range(3))
    return red, green, blue


def gradient(size: Size, top: RGB, bottom: RGB) -> Image.Image:
    """A vertical two-colour gradient, the background of every drawn picture."""
    height = size[1]
    column = Image.new("RGB", (1, height))
    for y in range(height):
        t = y / max(1, height - 1)
        column.putpixel(
            (0, y), tuple(round(a + (b - a) * t) for a, b in zip(top, bottom, strict=True))
        )
    return column.resize(size)


@cache
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    # Pillow >= 10.1 ships a scalable default font (Aileron), so no font file is needed.
    return ImageFont.load_default(size=size)


def _layout_lines(
    draw: ImageDraw.ImageDraw, text: str, width: int, height: int
) -> tuple[list[str], int]:
    """Largest font size (and line split) at which `text` fits in 85% of the width."""
    words = text.split()
    candidates = [[text]] if len(words) == 1 else [[text], words]
    for size in range(height // 4, 11, -2):
        for lines in candidates:
            widest = max(draw.textlength(line, font=_font(size)) for line in lines)
            block = len(lines) * size * 1.3
            if widest <= 0.85 * width and block <= 0.8 * height:
                return lines, size
    raise ValueError(f"rendered text {text!r} does not fit an image of {width}x{height}")


def render_text(size: Size, text: str, rng: random.Random) -> tuple[Image.Image, str, Box]:
    """Large, high-contrast text on a plain gradient (read back by OCR); returns the image, the
    text as shown and the box around it."""
    shown = text.upper() if rng.random() < 0.5 else text
    dark_on_light = rng.random() < 0.6
    background = _muted(rng, 200, 245) if dark_on_light else _muted(rng, 15, 60)
    ink = (20, 20, 20) if dark_on_light else (245, 245, 245)
    image = gradient(
        size, background, _muted(rng, 185, 235) if dark_on_light else _muted(rng, 25, 70)
    )
    draw = ImageDraw.Draw(image)
    lines, font_size = _layout_lines(draw, shown, *size)
    line_height = round(font_size * 1.3)
    top_space = size[1] - line_height * len(lines)
    y = rng.randint(top_space // 4, max(top_space // 4, 3 * top_space // 4))
    boxes = []
    for line in lines:
        line_width = draw.textlength(line, font=_font(font_size))
        x = rng.randint(round(size[0] * 0.05), round(size[0] - line_width - size[0] * 0.05))
        draw.text((x, y), line, font=_font(font_size), fill=ink)
        boxes.append(draw.textbbox((x, y), line, font=_font(font_size)))
        y += line_height
    return image, " ".join(lines), union(boxes)


def _circle(draw: ImageDraw.ImageDraw, cx: float, cy: float, r: float, **kwargs: object) -> None:
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), **kwargs)


def _basketball(draw: ImageDraw.ImageDraw, cx: float, cy: float, r: float) -> None:
    line = max(2, round(r / 14))
    _circle(draw, cx, cy, r, fill=(232, 112, 28), outline=(25, 20, 20), width=line)
    draw.line((cx - r, cy, cx + r, cy), fill=(25, 20, 20), width=line)
    draw.line((cx, cy - r, cx, cy + r), fill=(25, 20, 20), width=line)
    draw.arc((cx - 1.6 * r, cy - r, cx + 0.2 * r, cy + r), -60, 60, fill=(25, 20, 20), width=line)
    draw.arc((cx - 0.2 * r, cy - r, cx + 1.6 * r, cy + r), 120, 240, fill=(25, 20, 20), width=line)


def _watermelon(draw: ImageDraw.ImageDraw, cx: float, cy: float, r: float) -> None:
    draw.pieslice((cx - r, cy - r, cx + r, cy + r), 0, 180, fill=(40, 140, 50))
    draw.pieslice(
        (cx - 0.85 * r, cy - 0.85 * r, cx + 0.85 * r, cy + 0.85 * r), 0, 180, fill=(230, 50, 60)
    )
    for k in range(5):
        sx, sy = cx + (k - 2) * 0.3 * r, cy + (0.25 + 0.15 * (k % 2)) * r
        draw.ellipse(
            (sx - 0.04 * r, sy - 0.07 * r, sx + 0.04 * r, sy + 0.07 * r), fill=(15, 15, 15)
        )


def _vinyl(draw: ImageDraw.ImageDraw, cx: float, cy: float, r: float) -> None:
    _circle(draw, cx, cy, r, fill=(18, 18, 22))
    for k in range(4):
        _circle(
            draw, cx, cy, r * (0.9 - 0.12 * k), outline=(60, 60, 70), width=max(1, round(r / 40))
        )
    _circle(draw, cx, cy, 0.3 * r, fill=(200, 30, 40))
    _circle(draw, cx, cy, 0.05 * r, fill=(240, 240, 240))


def _paw(draw: ImageDraw.ImageDraw, cx: float, cy: float, r: float) -> None:
    brown = (110, 62, 30)
    draw.ellipse((cx - 0.5 * r, cy - 0.1 * r, cx + 0.5 * r, cy + 0.7 * r), fill=brown)
    for dx, dy in ((-0.7, -0.3), (-0.27, -0.75), (0.27, -0.75), (0.7, -0.3)):
        tx, ty = cx + dx * r, cy + dy * r
        draw.ellipse((tx - 0.2 * r, ty - 0.27 * r, tx + 0.2 * r, ty + 0.27 * r), fill=brown)


def _robot(draw: ImageDraw.ImageDraw, cx: float, cy: float, r: float) -> None:
    draw.line((cx, cy - 0.75 * r, cx, cy - r), fill=(90, 90, 95), width=max(2, round(r / 15)))
    _circle(draw, cx, cy - r, 0.1 * r, fill=(220, 30, 30))
    draw.rounded_rectangle(
        (cx - 0.8 * r, cy - 0.75 * r, cx + 0.8 * r, cy + 0.7 * r),
        radius=0.15 * r,
        fill=(150, 155, 165),
    )
    for side in (-1, 1):
        _circle(draw, cx + side * 0.38 * r, cy - 0.2 * r, 0.17 * r, fill=(40, 220, 230))
    for k in range(4):
        x0 = cx - 0.45 * r + k * 0.24 * r
        draw.rectangle((x0, cy + 0.25 * r, x0 + 0.18 * r, cy + 0.45 * r), fill=(40, 40, 45))


def _spotlights(image: Image.Image, rng: random.Random) -> None:
    """A concert stage: coloured beams fanning down from the top onto a dark scene (a layout)."""
    width, height = image.size
    image.paste(gradient(image.size, (10, 8, 30), (30, 20, 50)))
    beams = Image.new("RGB", image.size)
    draw = ImageDraw.Draw(beams)
    colours = [(230, 40, 200), (40, 200, 240), (250, 220, 40), (120, 60, 250)]
    rng.shuffle(colours)
    for k, colour in enumerate(colours[: rng.randint(3, 4)]):
        top = width * (0.15 + 0.23 * k) + rng.uniform(-10, 10)
        bottom = width * rng.uniform(0.1, 0.9)
        draw.polygon(
            [(top - 6, 0), (top + 6, 0), (bottom + 45, height), (bottom - 45, height)], fill=colour
        )
    image.paste(Image.blend(image, beams, 0.55))
    ImageDraw.Draw(image).rectangle((0, round(height * 0.85), width, height), fill=(25, 20, 20))


def _sunset(image: Image.Image, rng: random.Random) -> None:
    """Sun half-sunk into the sea at a random horizon and position (a layout)."""
    width, height = image.size
    horizon = round(height * rng.uniform(0.5, 0.7))
    image.paste(gradient((width, horizon), (250, 150, 60), (240, 90, 110)), (0, 0))
    image.paste(gradient((width, height - horizon), (30, 40, 110), (10, 15, 50)), (0, horizon))
    draw = ImageDraw.Draw(image)
    r = min(width, height) * rng.uniform(0.18, 0.28)
    cx = width * rng.uniform(0.3, 0.7)
    draw.pieslice((cx - r, horizon - r, cx + r, horizon + r), 180, 360, fill=(255, 215, 70))
    for k in range(1, 4):
        y = horizon + k * (height - horizon) / 4
        draw.line((cx - r * (1 - k / 5), y, cx + r * (1 - k / 5), y), fill=(230, 170, 60), width=3)


_OBJECTS: dict[str, Callable[[ImageDraw.ImageDraw, float, float, float], None]] = {
    "basketball": _basketball,
    "watermelon": _watermelon,
    "vinyl": _vinyl,
    "paw": _paw,
    "robot": _robot,
}
_SCENES: dict[str, Callable[[Image.Image, random.Random], None]] = {
    "spotlights": _spotlights,
    "sunset": _sunset,
}


def draw_object(size: Size, obj: str, rng: random.Random) -> tuple[Image.Image, Box]:
    """A drawn object at a random place and scale on a muted gradient, or a whole drawn scene
    (whose box is the whole image); returns the image and the object's box."""
    image = gradient(size, _muted(rng, 150, 235), _muted(rng, 120, 220))
    if obj in _SCENES:
        _SCENES[obj](image, rng)
        return image, whole(size)
    if obj not in _OBJECTS:
        raise ValueError(
            f"unknown drawn object {obj!r}; known: {sorted(_OBJECTS) + sorted(_SCENES)}"
        )
    draw = ImageDraw.Draw(image)
    for _ in range(rng.randint(0, 2)):  # low-contrast clutter, so the object is not alone
        x, y = rng.uniform(0, size[0]), rng.uniform(0, size[1])
        draw.rectangle(
            (x, y, x + rng.uniform(10, 40), y + rng.uniform(10, 40)), fill=_muted(rng, 110, 200)
        )
    r = min(size) * rng.uniform(0.25, 0.38)
    cx = rng.uniform(r * 1.05, size[0] - r * 1.05)
    cy = rng.uniform(r * 1.05, size[1] - r * 1.05)
    _OBJECTS[obj](draw, cx, cy, r)
    return image, (cx - r, cy - r, cx + r, cy + r)


@cache
def _photo_source(name: str) -> Image.Image:
    if name not in PHOTO_FILES:
        raise ValueError(f"unknown photo {name!r}; known: {sorted(PHOTO_FILES)}")
    try:
        folder = resources.files("skimage") / "data"
    except ModuleNotFoundError as exc:
        raise ValueError("generated photos need scikit-image (pip install scikit-image)") from exc
    with (folder / PHOTO_FILES[name]).open("rb") as handle:
        return Image.open(handle).convert("RGB")


def photo(size: Size, name: str, rng: random.Random) -> Image.Image:
    """A random crop (60-100% of the shorter side), flip and brightness change of a sample photo."""
    source = _photo_source(name)
    aspect = size[0] / size[1]
    crop_h = min(source.height, source.width / aspect) * rng.uniform(0.6, 1.0)
    crop_w = crop_h * aspect
    left = rng.uniform(0, source.width - crop_w)
    top = rng.uniform(0, source.height - crop_h)
    image = source.resize(
        size, Image.Resampling.LANCZOS, box=(left, top, left + crop_w, top + crop_h)
    )
    if rng.random() < 0.5:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return ImageEnhance.Brightness(image).enhance(rng.uniform(0.85, 1.15))


def visual(size: Size, obj: str, rng: random.Random) -> tuple[Image.Image, Box]:
    """The picture of a visual topic and the object's box: `photo:NAME` is a sample photo
    (the box is the whole image), anything else is drawn."""
    if obj.startswith("photo:"):
        return photo(size, obj.removeprefix("photo:"), rng), whole(size)
    return draw_object(size, obj, rng)


def whole(size: Size) -> Box:
    return (0.0, 0.0, float(size[0]), float(size[1]))


def union(boxes: list[tuple[float, float, float, float]]) -> Box:
    return (
        float(min(b[0] for b in boxes)),
        float(min(b[1] for b in boxes)),
        float(max(b[2] for b in boxes)),
        float(max(b[3] for b in boxes)),
    )


def grid_cells(
    box: Box, size: Size, *, side: int = GRID_SIDE, min_cover: float = 0.25
) -> list[int]:
    """The cells of the model's `side` x `side` region grid (row-major, as the CNN's 7x7 map
    over the image resized to a square) that `box` covers by at least `min_cover` of the
    cell's area."""
    width, height = size
    cell_w, cell_h = width / side, height / side
    left, top, right, bottom = box
    cells = []
    for row in range(side):
        for col in range(side):
            dx = min(right, (col + 1) * cell_w) - max(left, col * cell_w)
            dy = min(bottom, (row + 1) * cell_h) - max(top, row * cell_h)
            if dx > 0 and dy > 0 and dx * dy >= min_cover * cell_w * cell_h:
                cells.append(row * side + col)
    return cells

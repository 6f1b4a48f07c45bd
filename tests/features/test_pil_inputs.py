"""Any Pillow image featurizes like the decoded file: lazily opened (`Image.open`), of any
mode, shared between threads. OCR and the CNN read an image on two threads, so a lazy image
they shared used to decode twice at once (empty OCR, or Pillow's closed-file crash)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mmkp.features.featurizer import ImageFeatures, ImageFeaturizer
from mmkp.features.images import ImageError, from_pil

from .conftest import text_image

RUNS = 20
THREADS = 4


@pytest.fixture(scope="module")
def featurizer() -> Iterator[ImageFeaturizer]:
    with ImageFeaturizer() as loaded:
        yield loaded


def _saved(tmp_path: Path, mode: str) -> Path:
    """A text image (so OCR has something to read) saved losslessly in Pillow mode `mode`."""
    image = text_image(["GAME DAY"])
    path = tmp_path / f"image-{mode}.png"
    if mode == "P":
        image = image.convert("P", palette=Image.Palette.ADAPTIVE)
    elif mode == "RGBA":
        image = image.convert("RGBA")
        image.putpixel((0, 0), (0, 0, 0, 0))  # one transparent pixel: white once loaded
    else:
        image = image.convert(mode)
    image.save(path)
    return path


def _assert_same(a: ImageFeatures, b: ImageFeatures) -> None:
    assert a.ocr == b.ocr and a.entities == b.entities and a.errors == b.errors
    assert a.grid is not None and b.grid is not None and np.array_equal(a.grid, b.grid)


@pytest.mark.parametrize("mode", ["RGB", "P", "RGBA", "L"])
def test_lazy_pil_image_featurizes_like_the_decoded_file(
    featurizer: ImageFeaturizer, tmp_path: Path, mode: str
) -> None:
    path = _saved(tmp_path, mode)
    expected = featurizer.featurize_one(featurizer.load(path))  # decoded RGB
    assert expected.ocr.text == "game day" and expected.errors == []
    for _ in range(RUNS):
        with Image.open(path) as lazy:  # not loaded: decodes on first read
            _assert_same(featurizer.featurize_one(lazy), expected)


def test_one_lazy_image_shared_by_threads(featurizer: ImageFeaturizer, tmp_path: Path) -> None:
    path = _saved(tmp_path, "P")
    expected = featurizer.featurize_one(path)
    for _ in range(RUNS // THREADS):
        with Image.open(path) as lazy, ThreadPoolExecutor(THREADS) as pool:
            results = list(pool.map(lambda _: featurizer.featurize_one(lazy), range(THREADS)))
        for result in results:
            _assert_same(result, expected)


def test_pil_copy_is_private_loaded_and_upright(tmp_path: Path) -> None:
    image = Image.new("RGB", (40, 20), "red")
    exif = image.getexif()
    exif[0x0112] = 6  # EXIF orientation: rotate 90 degrees clockwise to view
    image.save(tmp_path / "rotated.jpg", exif=exif)
    with Image.open(tmp_path / "rotated.jpg") as lazy:
        loaded = from_pil(lazy)
        assert loaded is not lazy and loaded.mode == "RGB" and loaded.size == (20, 40)


def test_truncated_lazy_image_is_an_image_error(tmp_path: Path) -> None:
    text_image(["GAME DAY"]).save(tmp_path / "image.jpg")
    data = (tmp_path / "image.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    with Image.open(tmp_path / "cut.jpg") as lazy, pytest.raises(ImageError, match="truncated"):
        from_pil(lazy)

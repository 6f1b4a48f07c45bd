"""`ImageFeaturizer`: one image from a path, bytes or PIL image, in memory, no files written."""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mmkp.data.jsonl import read_posts
from mmkp.data.synthetic import generate
from mmkp.features.featurizer import FeaturizerConfig, ImageFeatures, ImageFeaturizer
from mmkp.features.images import ImageError
from mmkp.features.ocr import OcrEngine, OcrResult
from mmkp.features.vgg import VGGTrunk

from .conftest import photo, text_image


@pytest.fixture(scope="module")
def featurizer() -> Iterator[ImageFeaturizer]:
    with ImageFeaturizer() as loaded:
        yield loaded


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")  # lossless: file, bytes and PIL image hold equal pixels
    return buffer.getvalue()


def _assert_same(a: ImageFeatures, b: ImageFeatures) -> None:
    assert a.ocr == b.ocr and a.entities == b.entities and a.errors == b.errors
    assert a.grid is not None and b.grid is not None and np.array_equal(a.grid, b.grid)


@pytest.mark.parametrize("name", ["text", "chelsea"])
def test_path_bytes_and_pil_give_identical_features(
    featurizer: ImageFeaturizer, tmp_path: Path, name: str
) -> None:
    image = text_image(["GAME DAY"]) if name == "text" else photo("chelsea")
    (tmp_path / "image.png").write_bytes(_png(image))
    from_path = featurizer.featurize_one(tmp_path / "image.png")
    _assert_same(from_path, featurizer.featurize_one(str(tmp_path / "image.png")))
    _assert_same(from_path, featurizer.featurize_one(_png(image)))
    _assert_same(from_path, featurizer.featurize_one(image))
    assert from_path.grid is not None
    assert from_path.grid.shape == (49, 1280) and from_path.grid.dtype == np.float16
    assert from_path.errors == []
    if name == "text":
        assert from_path.ocr.text == "game day" and from_path.ocr.lines[0].text == "GAME DAY"
    else:
        assert from_path.ocr.text == "" and from_path.entities[0].name == "egyptian cat"


def test_batch_keeps_order_and_grid_false_gives_none(featurizer: ImageFeaturizer) -> None:
    images = [photo("coffee"), featurizer.load(photo("chelsea").convert("L"))]
    with_grid = featurizer.featurize(images)
    without = featurizer.featurize(images, grid=False)
    assert [f.entities[0].name for f in with_grid] == ["espresso", "egyptian cat"]
    assert [f.grid for f in without] == [None, None]
    assert [f.entities for f in without] == [f.entities for f in with_grid]
    assert featurizer.featurize([]) == []


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"this is not an image", "not an image (unknown format)"),
        (b"", "empty image (0 bytes)"),
        (_png(photo("coffee"))[:20], "corrupt or truncated image"),  # cut inside the header
        (_png(photo("coffee"))[:5000], "corrupt or truncated image"),  # cut inside the pixels
    ],
)
def test_bad_bytes_raise_image_error(featurizer: ImageFeaturizer, data: bytes, reason: str) -> None:
    with pytest.raises(ImageError) as caught:
        featurizer.featurize_one(data)
    assert caught.value.ref == f"<{len(data)} bytes>"
    assert caught.value.reason.startswith(reason)


def test_featurizing_writes_no_file_and_keeps_torch_threads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    image = text_image(["HELLO"])
    (tmp_path / "image.png").write_bytes(_png(image))
    cwd, temp = tmp_path / "cwd", tmp_path / "temp"
    cwd.mkdir()
    temp.mkdir()
    monkeypatch.chdir(cwd)
    # A private temp folder: the shared one may change under concurrent test runs.
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    threads = torch.get_num_threads()
    with ImageFeaturizer() as featurizer:
        for source in (tmp_path / "image.png", _png(image), image):
            assert featurizer.featurize_one(source).ocr.text == "hello"
    assert torch.get_num_threads() == threads
    assert os.listdir(cwd) == [] and os.listdir(temp) == []
    assert sorted(os.listdir(tmp_path)) == ["cwd", "image.png", "temp"]


def test_failed_ocr_is_an_error_entry(
    featurizer: ImageFeaturizer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: OcrEngine, image: Image.Image) -> OcrResult:
        raise RuntimeError("engine crashed")

    monkeypatch.setattr(OcrEngine, "read", broken)
    features = featurizer.featurize_one(photo("chelsea"))
    assert features.ocr == OcrResult("", ())
    assert features.errors == [{"stage": "ocr", "reason": "OCR failed: engine crashed"}]
    assert features.entities[0].name == "egyptian cat" and features.grid is not None


def test_vgg_grid_with_default_classifier_entities(tmp_path: Path) -> None:
    torch.save(VGGTrunk("vgg16").state_dict(), tmp_path / "vgg16.pth")
    config = FeaturizerConfig(backbone="vgg16", weights=str(tmp_path / "vgg16.pth"), ocr=False)
    with ImageFeaturizer(config) as featurizer:
        features = featurizer.featurize_one(photo("chelsea"))
    assert features.grid is not None and features.grid.shape == (49, 512)
    assert features.entities[0].name == "egyptian cat"  # from the Lite0 classifier
    assert features.ocr == OcrResult("", ())


def test_precomputed_entities_come_from_posts_not_images() -> None:
    with ImageFeaturizer(FeaturizerConfig(entities="precomputed", ocr=False)) as featurizer:
        features = featurizer.featurize_one(photo("coffee"), grid=False)
    assert features == ImageFeatures(OcrResult("", ()), [], None, [])


def test_generated_ocr_posts_read_back_with_parallel_ocr(
    featurizer: ImageFeaturizer, tmp_path: Path
) -> None:
    """Every rendered keyphrase of generated OCR posts is read back, and OCR threads
    (one engine each) give exactly what one engine gives, in the input order."""
    data = generate(
        tmp_path, n_train=12, n_dev=0, n_test=0, seed=11, noise_share=0.0, kind_weights=(0, 1, 0)
    )
    posts = read_posts(data.train)
    images = [featurizer.load(tmp_path / post.image) for post in posts]
    with ImageFeaturizer(ocr_workers=1) as single:
        expected = single.featurize(images, grid=False)
    with ImageFeaturizer(ocr_workers=3) as parallel:
        found = parallel.featurize(images, grid=False)
    assert [f.ocr for f in found] == [f.ocr for f in expected]
    assert [f.entities for f in found] == [f.entities for f in expected]
    for post, features in zip(posts, found, strict=True):
        assert post.extra["planted"]["image_keyphrase"] in features.ocr.text, post.id


def test_ocr_workers_must_be_positive() -> None:
    with pytest.raises(ValueError, match="ocr_workers must be >= 1, got 0"):
        ImageFeaturizer(ocr_workers=0)

"""A user's own CNN is one `register_backbone` call, and then featurizes like a shipped one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from mmkp.features.backbones import (
    SPECS,
    Network,
    load_backbone,
    register_backbone,
    spec,
)
from mmkp.features.featurizer import FeaturizerConfig, ImageFeaturizer
from mmkp.features.grid import extract, preprocess
from mmkp.features.ocr import OcrResult
from mmkp.features.vgg import read_state_dict

from .conftest import photo

CHANNELS = 8


def _tiny_cnn() -> nn.Sequential:
    """(B, 3, S, S) -> (B, 8, S/4, S/4): two stride-2 convolutions."""
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, CHANNELS, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv2d(CHANNELS, CHANNELS, 3, stride=2, padding=1),
    )


def _build(weights: Path) -> Network:
    trunk = _tiny_cnn()
    trunk.load_state_dict(read_state_dict(weights))
    return Network(trunk)


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tiny") / "tiny.pth"
    torch.save(_tiny_cnn().state_dict(), path)
    return path


@pytest.fixture(scope="module", autouse=True)
def registered() -> None:
    # 28 px / 4 = the models' 7x7 grid; 32 px / 4 = 8x8; "tiny-wrong" misstates its grid.
    register_backbone("tiny-7x7", _build, channels=CHANNELS, input_size=28)
    register_backbone("tiny-8x8", _build, channels=CHANNELS, input_size=32, grid_side=8)
    register_backbone("tiny-wrong", _build, channels=CHANNELS, input_size=32, grid_side=7)


def test_a_registered_cnn_featurizes_an_image(weights: Path) -> None:
    config = FeaturizerConfig(backbone="tiny-7x7", weights=str(weights), ocr=False)
    image = photo("chelsea")
    with ImageFeaturizer(config) as featurizer:
        features = featurizer.featurize_one(image)
    assert features.grid is not None and features.grid.shape == (49, CHANNELS)
    trunk = _tiny_cnn().eval()  # the same weights, by hand
    with torch.no_grad():
        expected = trunk(preprocess([image], spec("tiny-7x7")))  # (1, 8, 7, 7)
    expected_grid = expected[0].flatten(1).T.to(torch.float16).numpy()  # (49, 8)
    assert np.array_equal(features.grid, expected_grid)
    assert features.entities[0].name == "egyptian cat"  # the default classifier's
    assert features.ocr == OcrResult("", ()) and features.errors == []


def test_another_grid_side_is_refused_unless_asked_for(weights: Path) -> None:
    config = FeaturizerConfig(backbone="tiny-8x8", weights=str(weights), ocr=False)
    with pytest.raises(
        ValueError,
        match=r"'tiny-8x8' gives a 8x8 grid \(64 regions\), but the "
        r"models read a 7x7 grid \(49 regions\)",
    ):
        ImageFeaturizer(config)
    any_grid = FeaturizerConfig(
        backbone="tiny-8x8",
        weights=str(weights),
        ocr=False,
        entities="precomputed",
        grid_side=None,
    )
    with ImageFeaturizer(any_grid) as featurizer:
        grid = featurizer.featurize_one(photo("coffee")).grid
    assert grid is not None and grid.shape == (64, CHANNELS)


def test_a_misstated_grid_is_an_error_naming_the_backbone(weights: Path) -> None:
    with pytest.raises(
        ValueError,
        match=r"'tiny-wrong' gave feature maps of shape \(8, 8, 8\), "
        r"but is registered with .* = \(8, 7, 7\)",
    ):
        extract(load_backbone("tiny-wrong", weights), [photo("coffee")])


def test_registration_errors() -> None:
    with pytest.raises(ValueError, match="backbone 'tiny-7x7' is already registered"):
        register_backbone("tiny-7x7", _build, channels=CHANNELS)
    with pytest.raises(ValueError, match=r"'x': grid_side must be in \[1, 28\], got 30"):
        register_backbone("x", _build, channels=CHANNELS, input_size=28, grid_side=30)
    assert "x" not in SPECS
    with pytest.raises(ValueError, match="tiny-7x7 has no bundled weights: pass --weights PATH"):
        load_backbone("tiny-7x7")


def test_an_unknown_name_lists_the_registered_ones() -> None:
    with pytest.raises(ValueError) as caught:
        spec("resnet")
    message = str(caught.value)
    assert message.startswith(
        "unknown backbone 'resnet'; choose one of efficientnet-lite0, efficientnet-lite2, "
        "vgg16, vgg19, "
    )
    assert "tiny-7x7, tiny-8x8, tiny-wrong" in message  # the user's, in registration order
    with pytest.raises(ValueError, match="unknown backbone 'resnet'"):
        ImageFeaturizer(FeaturizerConfig(backbone="resnet"))

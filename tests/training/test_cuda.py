"""Training on a CUDA GPU (skipped without one): the tiny model trains, resumes across devices,
and predicts what the CPU predicts.

Tolerances: GPU kernels sum in another order than the CPU's, so CUDA-trained weights match
CPU-trained ones to about 1e-3 after these few steps (not bit for bit), while the same weights
(trained on the CPU) give exactly the same keyphrases on either device."""

from __future__ import annotations

import math

import pytest
import torch
from safetensors.torch import load_file

from mmkp.inference.predictor import Predictor
from mmkp.training.config import load_config
from mmkp.training.data import load_split
from mmkp.training.pipeline import run_training

from .conftest import TINY

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
SHORT = ["train.stages.0.epochs=3", "train.stages.1.epochs=2"]


def train(tmp_path, name, *overrides):
    return run_training(load_config(TINY, [*SHORT, *overrides]), tmp_path / name)


def test_cuda_training_matches_the_cpu_and_cpu_weights_predict_the_same_on_cuda(
    tmp_path, one_thread
):
    cpu = train(tmp_path, "cpu", "train.device=cpu")
    gpu = train(tmp_path, "cuda", "train.device=cuda")
    cpu_weights = load_file(str(cpu.model_dir / "model.safetensors"))
    gpu_weights = load_file(str(gpu.model_dir / "model.safetensors"))  # saved from the CPU
    assert cpu_weights.keys() == gpu_weights.keys()
    for key, value in cpu_weights.items():
        assert torch.allclose(value, gpu_weights[key], atol=1e-3), key

    dev = load_split(load_config(TINY).data.dev)  # the posts the runs scored
    on_cpu = Predictor.load(cpu.model_dir, device="cpu")
    on_gpu = Predictor.load(cpu.model_dir, device="cuda")
    assert [r.texts for r in on_gpu.predict_many(dev, 4)] == [
        r.texts for r in on_cpu.predict_many(dev, 4)
    ]


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_trains_and_scores(tmp_path, one_thread, precision):
    run = train(tmp_path, precision, "train.device=cuda", f"train.precision={precision}")
    trained = [row for rows in run.history.values() for row in rows if "train_loss" in row]
    assert trained and all(math.isfinite(row["train_loss"]) for row in trained)
    assert run.scores["dev"].num_posts == 6


def test_a_cpu_run_resumes_on_cuda(tmp_path, one_thread):
    out = tmp_path / "run"
    run_training(load_config(TINY, [*SHORT, "train.device=cpu"]), out)
    more = ["train.stages.1.epochs=3", "train.device=cuda"]
    resumed = run_training(load_config(TINY, [*SHORT, *more]), out, resume=True)
    epochs = [row["epoch"] for row in resumed.history["stage2"]]
    assert epochs[-1] == 3 or len(epochs) < 4  # early stopping may end stage 2 sooner
    assert resumed.scores["dev"].num_posts == 6

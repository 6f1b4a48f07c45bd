"""`mmkp serve --device`: a setting like the others, the model loaded there, and a device that
is not here refused at startup in one line (exit 2) before any worker starts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import torch
from fastapi.testclient import TestClient

from mmkp.serve.__main__ import build_parser, main, settings_from
from mmkp.serve.app import create_app
from mmkp.serve.settings import ServeSettings

MISSING_GPU = f"cuda:{torch.cuda.device_count()}"  # one past the last GPU (cuda:0 without any)


def test_the_flag_is_the_device_setting(tiny_dir):
    args = build_parser().parse_args(["--model", str(tiny_dir), "--set", "batch_wait_ms=5"])
    assert settings_from(args).device == "cpu"  # the default
    flags = ["--model", str(tiny_dir), "--device", "auto", "--set", "device=cpu"]
    args = build_parser().parse_args([*flags, "--set", "batch_wait_ms=5"])  # the flag wins
    assert settings_from(args) == ServeSettings(device="auto", batch_wait_ms=5)


def test_an_unusable_device_is_one_line_and_exit_2(tiny_dir, capsys):
    cases = [(MISSING_GPU, f"device {MISSING_GPU!r} asked for, but torch sees"),
             ("tpu", "device must be one of auto | cpu | cuda | cuda:N, got 'tpu'")]  # fmt: skip
    for device, message in cases:
        assert main(["--model", str(tiny_dir), "--device", device]) == 2
        error = capsys.readouterr().err
        assert error.startswith(f"mmkp serve: error: {message}") and error.count("\n") == 1


def test_the_mmkp_command_passes_the_flag_on(tiny_dir):
    mmkp = str(Path(sys.executable).with_name("mmkp"))
    done = subprocess.run([mmkp, "serve", "--model", str(tiny_dir), "--device", MISSING_GPU],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert f"device {MISSING_GPU!r} asked for" in done.stderr


def test_the_model_is_loaded_on_the_device_setting(tiny_dir):
    device = "cuda" if torch.cuda.is_available() else "cpu"
    app = create_app(ServeSettings(device=device), model_dir=tiny_dir)
    with TestClient(app) as client:
        answer = client.post("/v1/keyphrases", json={"text": "rain in london"})
        assert client.get("/v1/model").json()["limits"]["device"] == device
    predictor = app.state.service.predictor
    assert answer.status_code == 200 and answer.json()["keyphrases"]
    assert predictor.device.type == next(predictor.model.parameters()).device.type == device


def test_the_minilm_precision_setting_reaches_the_predictor(tiny_dir, capsys):
    from mmkp.features.sentence_encoder import shared_encoder

    args = build_parser().parse_args(["--model", str(tiny_dir)])
    assert settings_from(args).minilm_precision == "fp32"  # the default: exact
    try:
        app = create_app(ServeSettings(minilm_precision="bf16"), model_dir=tiny_dir)
        with TestClient(app) as client:
            assert client.post("/v1/keyphrases", json={"text": "rain in london"}).status_code == 200
        assert shared_encoder().precision == "bf16"
    finally:
        shared_encoder().set_precision("fp32")
    assert main(["--model", str(tiny_dir), "--set", "minilm_precision=fp16"]) == 2
    assert "minilm_precision" in capsys.readouterr().err

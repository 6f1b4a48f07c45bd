"""A bad model directory is one line naming the file and the problem, never a crash: sizes
that cannot be allocated, an unknown model name, NaN weights and a missing vocabulary, through
`Predictor.load` and every command that loads a model (`mmkp benchmark` trains its own and
loads no directory it is given). Sizes are checked against the weights' shapes before anything
is allocated."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from mmkp.cli.main import main
from mmkp.inference.checkpoint import check_checkpoint, load_checkpoint
from mmkp.inference.predictor import Predictor

from .conftest import save_tiny_checkpoint

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Every test here runs on one torch thread (see tests/conftest.py)."""


def _config(key: str, value: object) -> Callable[[Path], None]:
    def edit(model: Path) -> None:
        path = model / "config.json"
        config = json.loads(path.read_text())
        config["model"][key] = value
        path.write_text(json.dumps(config))

    return edit


def _nan(model: Path) -> None:
    tensors = load_file(model / "model.safetensors")
    tensors["decoder.rnn.weight_ih_l0"][0, 0] = float("nan")
    save_file(tensors, model / "model.safetensors")


# each case: how the directory is damaged, the file the line names, what it says of it
CASES: dict[str, tuple[Callable[[Path], None], str, str]] = {
    "huge hidden size": (_config("hidden_size", 10**9), "config.json", "hidden_size"),
    "size past int64": (_config("hidden_size", 10**20), "config.json", "hidden_size"),
    "wrong image size": (_config("image_dim", 10**6), "config.json", "image_dim"),
    "unknown name": (_config("name", "no-such-model"), "config.json", "unknown model"),
    "NaN weights": (_nan, "model.safetensors", "NaN"),
    "missing vocab": (lambda model: (model / "vocab.json").unlink(), "vocab.json", "no "),
}


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> Path:
    return save_tiny_checkpoint(tmp_path_factory.mktemp("good") / "model", image_dim=16)


@pytest.fixture(params=list(CASES))
def bad(request, good: Path, tmp_path: Path) -> tuple[Path, str, str]:
    damage, name, problem = CASES[request.param]
    model = tmp_path / "model"
    shutil.copytree(good, model)
    damage(model)
    return model, name, problem


def _one_line(err: str, command: str, model: Path, name: str, problem: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith(f"mmkp {command}: error: "), lines[0]
    assert str(model) in lines[0] and name in lines[0] and problem in lines[0], lines[0]


def test_predictor_load_raises_one_message_naming_the_file(bad) -> None:
    model, name, problem = bad
    with pytest.raises((ValueError, OSError)) as caught:
        Predictor.load(model)
    message = str(caught.value)
    assert str(model) in message and name in message and problem in message, message
    assert "\n" not in message and "DefaultCPUAllocator" not in message


def test_the_checks_come_before_a_model_is_allocated(bad, monkeypatch) -> None:
    """The sizes are checked on a model without storage: a real build never starts."""
    model, _name, problem = bad

    def refuse(*args, **kwargs):
        raise AssertionError("a real model was built before the directory was checked")

    monkeypatch.setattr("mmkp.inference.checkpoint._build_real", refuse)
    with pytest.raises((ValueError, OSError), match=problem):
        load_checkpoint(model)
    with pytest.raises((ValueError, OSError), match=problem):
        check_checkpoint(model)


@pytest.mark.parametrize("command", ["predict", "explain"])
def test_the_commands_exit_2_with_one_line(bad, command, tmp_path, capsys) -> None:
    model, name, problem = bad
    args = [command, "--model", str(model), "--text", "rain again in london"]
    if command == "explain":
        args += ["--out", str(tmp_path / "figure.png")]
    assert main(args) == 2
    _one_line(capsys.readouterr().err, command, model, name, problem)


def test_explain_names_a_bad_compared_model_too(bad, good, tmp_path, capsys) -> None:
    model, name, problem = bad
    args = ["explain", "--model", str(good), "--compare", str(model), "--text", "rain again"]
    assert main([*args, "--out", str(tmp_path / "figure.png")]) == 2
    _one_line(capsys.readouterr().err, "explain", model, name, problem)


def test_serve_exits_2_with_one_line_before_starting(bad) -> None:
    pytest.importorskip("uvicorn")
    model, name, problem = bad
    env = {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "mmkp", "serve", "--model", str(model), "--port", "1"]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2, done.stderr
    _one_line(done.stderr, "serve", model, name, problem)


def test_a_good_directory_still_loads(good: Path) -> None:
    assert check_checkpoint(good).model.hidden_size == 8
    assert torch.isfinite(Predictor.load(good).model.decoder.rnn.weight_ih_l0).all()

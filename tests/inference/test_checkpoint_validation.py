"""Loading a checkpoint trusts none of its files: one ValueError names the file and the
mismatch (config.json keys, tensor shapes, vocab/label sizes, damaged weights), and a save
that cannot be written leaves the previous checkpoint intact."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
from safetensors.torch import load_file, save_file

from mmkp.decoding.config import DecodeConfig
from mmkp.inference.checkpoint import load_checkpoint

from .conftest import save_tiny_checkpoint


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Every test here runs on one torch thread (see tests/conftest.py)."""


@pytest.fixture
def model(tmp_path: Path) -> Path:
    return save_tiny_checkpoint(tmp_path / "model", image_dim=16)


def _edit(model: Path, section: str, edit) -> None:
    path = model / "config.json"
    config = json.loads(path.read_text())
    edit(config[section])
    path.write_text(json.dumps(config))


def test_a_missing_size_key_is_named_instead_of_dozens_of_size_mismatches(model: Path) -> None:
    _edit(model, "model", lambda section: section.pop("hidden_size"))
    with pytest.raises(ValueError) as caught:
        load_checkpoint(model)
    message = str(caught.value)
    weights, config = model / "model.safetensors", model / "config.json"
    assert message.startswith(f"{weights} does not fit {config}: ")
    assert "rnn.weight_ih_l0 is [24, 8] in the file but [450, 8] for the config" in message
    assert "config.json lacks model.hidden_size, so library defaults were used" in message
    assert "\n" not in message


def test_a_missing_key_the_weights_do_not_depend_on_is_a_warning(model: Path, caplog) -> None:
    _edit(model, "decode", lambda section: section.pop("top_k"))
    with caplog.at_level(logging.WARNING, logger="mmkp.inference"):
        checkpoint = load_checkpoint(model)
    assert checkpoint.config.decode.top_k == DecodeConfig().top_k
    assert f"{model / 'config.json'} lacks decode.top_k: using the library defaults" in caplog.text


def test_vocab_and_labels_of_another_model_are_named(model: Path) -> None:
    for name, key in (("vocab.json", "words"), ("labels.json", "keyphrases")):
        path = model / name
        original = path.read_text()
        saved = json.loads(original)
        saved[key] = saved[key][:-1]
        path.write_text(json.dumps(saved))
        size = len(saved[key])
        with pytest.raises(ValueError, match=f"{name} has {size} .*which the weights do not"):
            load_checkpoint(model)
        path.write_text(original)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "config.json: not valid JSON"),
        (b"\xff\xfe", "config.json: not valid UTF-8"),
        (b'{"format": "mmkp-model", "version": 1}', "config.json: no 'model' section"),
    ],
)
def test_a_config_that_cannot_be_read_names_the_file(model: Path, content, message) -> None:
    (model / "config.json").write_bytes(content)
    with pytest.raises(ValueError, match=message):
        load_checkpoint(model)


def test_a_config_with_a_bom_loads(model: Path) -> None:
    path = model / "config.json"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    load_checkpoint(model)


@pytest.mark.parametrize("cut", [0, 7, 0.5, -1])
def test_damaged_weights_name_the_file(model: Path, cut) -> None:
    path = model / "model.safetensors"
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * cut) if isinstance(cut, float) else cut])
    with pytest.raises(ValueError, match=f"{path}: not a readable safetensors file"):
        load_checkpoint(model)


def test_weights_with_nan_are_refused(model: Path) -> None:
    path = model / "model.safetensors"
    tensors = load_file(str(path))
    tensors["classifier.ffn.0.bias"][0] = float("nan")
    save_file(tensors, str(path))
    with pytest.raises(ValueError, match=r"tensor classifier.ffn.0.bias holds NaN"):
        load_checkpoint(model)


def test_a_save_that_hits_the_file_size_limit_keeps_the_previous_checkpoint(
    model: Path, tmp_path: Path
) -> None:
    """A full disk, made real with RLIMIT_FSIZE: the write fails with EFBIG (SIGXFSZ off)."""
    before = load_file(str(model / "model.safetensors"))
    size = (model / "model.safetensors").stat().st_size
    script = f"""
import resource, signal, sys
sys.path.insert(0, {str(Path(__file__).parent)!r})
from conftest import save_tiny_checkpoint
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, ({size // 2}, {size // 2}))
try:
    save_tiny_checkpoint(__import__("pathlib").Path({str(model)!r}), image_dim=16)
except OSError as exc:
    print(exc.errno, exc.filename, exc.strerror)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.stdout.split(" ", 2) == [
        "27",
        str(model),
        "could not write the checkpoint (Error while serializing: I/O error: File too large "
        "(os error 27)); the previous checkpoint is intact\n",
    ], done.stderr
    after = load_file(str(model / "model.safetensors"))
    assert after.keys() == before.keys() and all((after[k] == before[k]).all() for k in after)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no temporary left

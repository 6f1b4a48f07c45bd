"""Model directories as Hub-style repos: a README.md model card beside the weights, every file
with the permissions a plain open() gives, and `Predictor.from_pretrained` for a directory or a
Hub repo id read offline from a huggingface_hub cache the test lays out itself."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from mmkp.inference.checkpoint import export_model
from mmkp.inference.hub import resolve_model
from mmkp.inference.model_card import ModelCard, write_model_card
from mmkp.inference.predictor import Predictor

from .conftest import save_tiny_checkpoint

SRC = Path(__file__).resolve().parents[2] / "src"
REVISION = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Every test here runs on one torch thread (see tests/conftest.py)."""


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return save_tiny_checkpoint(tmp_path_factory.mktemp("repo") / "model", image_dim=16)


def test_every_file_of_a_saved_model_has_plain_permissions(model: Path, tmp_path: Path) -> None:
    umask = os.umask(0)
    os.umask(umask)
    exported = export_model(model, tmp_path / "exported")
    for directory in (model, exported):
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in directory.iterdir()}
        assert set(modes.values()) == {0o666 & ~umask}, modes  # safetensors alone wrote 0600


def test_a_saved_model_has_a_card_that_the_export_keeps(model: Path, tmp_path: Path) -> None:
    card = (model / "README.md").read_text()
    assert card.startswith("---\nlibrary_name: mmkp\n")
    for heading in ("Training data", "Scores", "Intended use and limits", "How to load", "Config"):
        assert f"## {heading}\n" in card
    assert '"hidden_size": 8' in card and "Predictor.from_pretrained(" in card
    assert "Not measured when this directory was written." in card
    exported = export_model(model, tmp_path / "exported")
    assert (exported / "README.md").read_text() == card


def test_a_card_with_data_and_scores_shows_them(model: Path, tmp_path: Path) -> None:
    config = json.loads((model / "config.json").read_text())
    card = ModelCard(
        config,
        words=30,
        labels=4,
        trained_on={"train": "data/train.jsonl (3 posts)"},
        scores={"dev": {"F1@1": 41.256, "F1@3": 30.0, "F1@5": 22.5, "MAP@5": 50.0}},
    )
    text = write_model_card(tmp_path, card).read_text()
    assert "- train: `data/train.jsonl (3 posts)`" in text
    assert "| dev | 41.26 | 30.00 | 22.50 | 50.00 |" in text


def test_from_pretrained_reads_a_local_directory(model: Path) -> None:
    predictor = Predictor.from_pretrained(model)
    assert predictor.predict("rain again in london").texts
    assert resolve_model(str(model)) == model


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("no/such/folder", "no such model directory, nor a Hub repo id"),
        ("../owner/name", "no such model directory, nor a Hub repo id"),
    ],
)
def test_a_name_that_is_neither_is_one_line(name: str, message: str) -> None:
    with pytest.raises(FileNotFoundError, match=message):
        Predictor.from_pretrained(name)


def _hub_cache(cache: Path, model: Path) -> Path:
    """The layout huggingface_hub keeps: models--owner--name/{refs/main, snapshots/REV/...}."""
    repo = cache / "models--someone--tiny-mmkp"
    shutil.copytree(model, repo / "snapshots" / REVISION)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(REVISION)
    return repo


def test_from_pretrained_reads_a_hub_repo_id_from_the_cache_offline(model, tmp_path) -> None:
    pytest.importorskip("huggingface_hub")
    _hub_cache(tmp_path / "hub", model)
    script = (
        "from mmkp.inference.predictor import Predictor\n"
        "p = Predictor.from_pretrained('someone/tiny-mmkp')\n"
        "print(p.predict('rain again in london').texts)\n"
        "try:\n"
        "    Predictor.from_pretrained('someone/not-cached')\n"
        "except FileNotFoundError as exc:\n"
        "    print(exc)\n"
    )
    env = {
        **os.environ,
        "PYTHONPATH": str(SRC),
        "OMP_NUM_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
        "HF_HUB_CACHE": str(tmp_path / "hub"),
        "HF_HOME": str(tmp_path / "home"),
    }
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr
    texts, refused = done.stdout.splitlines()[-2:]
    assert texts == str(Predictor.load(model).predict("rain again in london").texts)
    assert refused.startswith("someone/not-cached: neither a local directory nor in the Hugging")

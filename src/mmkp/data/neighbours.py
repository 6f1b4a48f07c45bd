"""Retrieval: the training posts most similar to a post, and their keyphrases' votes.

Similarity is the cosine of TF-IDF vectors of X_T (post + OCR + entities, as
`mmkp.data.layout.source_text` writes it; `mmkp.data.tfidf`, scikit-learn's TF-IDF):
``tf = 1 + log(count)`` (`sublinear_tf`), ``idf = log((1 + N) / (1 + df)) + 1``, rows
L2-normalised. Used by the kNN
baselines (`mmkp.retrieval`) and by models whose config has `retrieval` (a decoder that copies
from the neighbours' keyphrases, a decode-time rerank with their votes): the index over the
training split is saved with such a model (`RetrievalIndex.save`) so inference retrieves from
the same posts. With `RetrievalOptions.encoder` minilm or both, the neighbours come from
sentence embeddings instead or as well (`mmkp.data.embedding_index`; both: each side's
votes normalised to sum 1, then averaged, `merge_scores`).
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np

from mmkp.data.embedding_index import Embed, EmbeddingIndex
from mmkp.data.layout import source_text
from mmkp.data.record import Post
from mmkp.data.tfidf import TfidfVectors
from mmkp.data.vocab import LabelSet
from mmkp.io import write_json_atomic

# Tokens the benchmark uses as structure or placeholders, not content.
_SKIP = frozenset({"<seg>", ";"})
_WORD = re.compile(r"\w")
_CHUNK = 512  # query rows per sparse product, so (chunk, N) dense scores stay small
INDEX_FORMAT = "mmkp-retrieval-index"
INDEX_FILE = "retrieval.json"
Encoder = Literal["tfidf", "minilm", "both"]
ENCODERS: tuple[str, ...] = get_args(Encoder)


def content_tokens(text: str) -> list[str]:
    """Lowercased whitespace tokens that contain a letter or digit, minus `<seg>` and `;`."""
    return [tok for tok in text.lower().split() if tok not in _SKIP and _WORD.search(tok)]


@dataclass(frozen=True)
class TfidfOptions:
    sublinear_tf: bool = True
    min_df: int = 1
    # Also index adjacent-token pairs, so multi-word names (and keyphrases) count as a unit.
    bigrams: bool = False


@dataclass(frozen=True)
class Neighbours:
    """Each query's nearest indexed documents, most similar first (ties: earlier document)."""

    indices: np.ndarray  # (M, k) int64 document rows; -1 where fewer than k are similar
    similarities: np.ndarray  # (M, k) float64 cosine, 0 where indices is -1


class TfidfIndex:
    """TF-IDF rows of a collection of texts, searchable by cosine similarity."""

    def __init__(self, documents: Sequence[str], options: TfidfOptions | None = None):
        self.options = options or TfidfOptions()
        self._vectors = TfidfVectors(
            self._terms, sublinear_tf=self.options.sublinear_tf, min_df=self.options.min_df
        )
        try:
            self._matrix = self._vectors.fit_transform(documents)  # (N, V) CSR
        except ValueError:  # no document has a content word: nothing is similar to anything
            self._matrix = None
        self.size = len(documents)

    def _terms(self, text: str) -> list[str]:
        tokens = content_tokens(text)
        if self.options.bigrams:
            return [*tokens, *(f"{a} {b}" for a, b in itertools.pairwise(tokens))]
        return tokens

    def similarities(self, queries: Sequence[str]) -> np.ndarray:
        """(M, N) cosine similarity of each query to every indexed document."""
        if self._matrix is None:
            return np.zeros((len(queries), self.size))
        return (self._vectors.transform(queries) @ self._matrix.T).toarray()

    def neighbours(
        self, queries: Sequence[str], k: int, *, exclude: Sequence[int] | None = None
    ) -> Neighbours:
        """The `k` most similar documents (similarity > 0) of each query; `exclude[i]` is a
        document row query i may not return (the query itself, when the queries are the
        indexed documents), -1 for none."""
        return nearest(self.similarities, self.size, queries, k, exclude=exclude)


def nearest(
    similarities: Callable[[Sequence[str]], np.ndarray],
    size: int,
    queries: Sequence[str],
    k: int,
    *,
    exclude: Sequence[int] | None = None,
) -> Neighbours:
    """The `k` documents of `size` with the highest `similarities(queries)` (> 0) per query,
    computed in chunks of queries; `exclude` as in `TfidfIndex.neighbours`."""
    k = min(k, size)
    indices = np.full((len(queries), k), -1, dtype=np.int64)
    sims = np.zeros((len(queries), k))
    for start in range(0, len(queries), _CHUNK):
        scores = similarities(queries[start : start + _CHUNK])  # (c, N)
        if exclude is not None:
            rows = np.asarray(exclude[start : start + _CHUNK], dtype=np.int64)
            keep = rows >= 0
            scores[np.flatnonzero(keep), rows[keep]] = 0.0
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k]  # (c, k)
        top = np.take_along_axis(scores, order, axis=1)
        found = top > 0
        indices[start : start + len(scores)] = np.where(found, order, -1)
        sims[start : start + len(scores)] = np.where(found, top, 0.0)
    return Neighbours(indices, sims)


@dataclass(frozen=True)
class RetrievalOptions:
    """How a model retrieves: `k` nearest training posts, whose keyphrases vote; the `labels`
    best-voted keyphrases (with their normalised votes) go into every batch row."""

    k: int = 40
    labels: int = 10
    bigrams: bool = False
    # Which neighbours vote: TF-IDF ones, MiniLM ones (`mmkp.data.embedding_index`), or both,
    # each side's votes normalised to sum 1 and averaged (`merge_scores`).
    encoder: Encoder = "tfidf"

    def __post_init__(self) -> None:
        if self.k < 1 or self.labels < 1:
            raise ValueError(f"retrieval k and labels must be >= 1, got {self.k}, {self.labels}")
        if self.encoder not in ENCODERS:
            raise ValueError(
                f"unknown retrieval encoder {self.encoder!r}; known: {', '.join(ENCODERS)}"
            )


@dataclass(frozen=True)
class VotedLabels:
    """One post's neighbour votes: label-set indices, best first, and weights summing to 1
    (both empty when no training post shares a content word with it)."""

    labels: tuple[int, ...]
    weights: tuple[float, ...]


# A post's position in its split (Example.post_index) -> its votes (None: no neighbours).
NeighbourLookup = Callable[[int], VotedLabels | None]


def label_scores(
    neighbours: Neighbours, document_labels: Sequence[Sequence[int]]
) -> list[dict[int, float]]:
    """Each query's labels scored by the summed similarity of the neighbours carrying them,
    in the order met (nearer neighbours first)."""
    out = []
    for rows, sims in zip(neighbours.indices, neighbours.similarities, strict=True):
        scores: dict[int, float] = {}
        for row, sim in zip(rows.tolist(), sims.tolist(), strict=True):
            if row < 0:
                break
            for label in document_labels[row]:
                scores[label] = scores.get(label, 0.0) + sim
        out.append(scores)
    return out


def merge_scores(first: dict[int, float], second: dict[int, float]) -> dict[int, float]:
    """The mean of two label scorings, each first normalised to sum 1: TF-IDF cosines (mostly
    0.05-0.5) and MiniLM cosines (mostly 0.3-0.9) are on different scales, so summing raw
    similarities would hand the vote to MiniLM; normalised, each retriever has an equal say.
    A side with no neighbours drops out (the other is the mean). Order: `first`'s labels,
    then `second`'s new ones."""
    sides = [s for s in (first, second) if sum(s.values()) > 0]
    merged: dict[int, float] = {}
    for scores in sides:
        total = sum(scores.values())
        for label, score in scores.items():
            merged[label] = merged.get(label, 0.0) + score / total / len(sides)
    return merged


def top_votes(scores: dict[int, float], top: int) -> VotedLabels:
    """The `top` best labels (ties: the label met first) with their scores normalised to sum 1."""
    best = sorted(scores.items(), key=lambda item: -item[1])[:top]  # stable: ties keep order
    total = sum(score for _, score in best)
    if total <= 0:
        return VotedLabels((), ())
    return VotedLabels(tuple(lab for lab, _ in best), tuple(s / total for _, s in best))


def vote(
    neighbours: Neighbours, document_labels: Sequence[Sequence[int]], top: int
) -> list[VotedLabels]:
    """Each query's labels scored by the summed similarity of the neighbours carrying them,
    the `top` best (ties: the label met first, nearer neighbours first) normalised to sum 1."""
    return [top_votes(scores, top) for scores in label_scores(neighbours, document_labels)]


class RetrievalIndex:
    """The training posts' X_T texts and keyphrase labels, with their TF-IDF index and, for
    `options.encoder` minilm or both, their sentence embeddings (`embed`: the encoder; a
    cached `EmbeddingIndex` is used as it is)."""

    def __init__(
        self,
        texts: Sequence[str],
        labels: Sequence[Sequence[int]],
        options: RetrievalOptions,
        *,
        embed: Embed | None = None,
        embeddings: EmbeddingIndex | None = None,
    ):
        if len(texts) != len(labels):
            raise ValueError(f"{len(texts)} texts but {len(labels)} label lists")
        self.texts, self.labels, self.options = list(texts), [list(x) for x in labels], options
        self.tfidf = TfidfIndex(self.texts, TfidfOptions(bigrams=options.bigrams))
        self.dense = embeddings
        if options.encoder != "tfidf" and self.dense is None:
            if embed is None:
                raise ValueError(
                    f"retrieval encoder {options.encoder!r} needs a sentence encoder to embed "
                    "the posts with (embed=...)"
                )
            self.dense = EmbeddingIndex.build(self.texts, embed)

    @classmethod
    def build(
        cls,
        posts: Sequence[Post],
        label_set: LabelSet,
        options: RetrievalOptions,
        *,
        embed: Embed | None = None,
    ) -> RetrievalIndex:
        """The index of the training posts; keyphrases outside the label set are not voted."""
        labels = [
            list(dict.fromkeys(i for kp in p.keyphrases if (i := label_set.index(kp)) is not None))
            for p in posts
        ]
        return cls([source_text(p) for p in posts], labels, options, embed=embed)

    def with_options(
        self, options: RetrievalOptions, *, embed: Embed | None = None
    ) -> RetrievalIndex:
        """The same posts retrieved with other options (e.g. another encoder at predict time);
        embeddings already computed are kept."""
        return RetrievalIndex(self.texts, self.labels, options, embed=embed, embeddings=self.dense)

    def votes(self, posts: Sequence[Post], *, exclude_self: bool = False) -> list[VotedLabels]:
        """Each post's neighbour votes; `exclude_self`: the posts are the indexed ones, in
        order, and none may retrieve itself (training)."""
        if exclude_self and len(posts) != len(self.texts):
            raise ValueError("exclude_self needs the indexed posts themselves, in order")
        exclude = range(len(posts)) if exclude_self else None
        texts = self.texts if exclude_self else [source_text(p) for p in posts]
        k, top, encoder = self.options.k, self.options.labels, self.options.encoder
        if encoder == "tfidf":
            return vote(self.tfidf.neighbours(texts, k, exclude=exclude), self.labels, top)
        assert self.dense is not None  # __init__ embeds the posts for minilm and both
        dense = label_scores(
            nearest(self.dense.similarities, self.dense.size, texts, k, exclude=exclude),
            self.labels,
        )
        if encoder == "minilm":
            return [top_votes(scores, top) for scores in dense]
        sparse = label_scores(self.tfidf.neighbours(texts, k, exclude=exclude), self.labels)
        return [top_votes(merge_scores(t, m), top) for t, m in zip(sparse, dense, strict=True)]

    def lookup(self, posts: Sequence[Post], *, exclude_self: bool = False) -> NeighbourLookup:
        """The posts' votes by position, for `collate` (rows carry their post's position)."""
        return self.votes(posts, exclude_self=exclude_self).__getitem__

    def save(self, directory: str | Path) -> None:
        write_json_atomic(
            Path(directory) / INDEX_FILE,
            {
                "format": INDEX_FORMAT,
                "version": 1,
                "texts": self.texts,
                "labels": self.labels,
            },
        )
        if self.dense is not None:
            self.dense.save(directory)

    @classmethod
    def load(
        cls,
        directory: str | Path,
        options: RetrievalOptions,
        num_labels: int,
        *,
        embed: Embed | None = None,
    ) -> RetrievalIndex:
        """The saved index (refitted from its texts, which gives the same vectors), with the
        cached sentence embeddings beside it when there are (else embedded now by `embed`,
        for an encoder that needs them)."""
        path = Path(directory) / INDEX_FILE
        try:
            obj: Any = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path}: cannot read the retrieval index ({exc})") from exc
        if not isinstance(obj, dict) or obj.get("format") != INDEX_FORMAT:
            raise ValueError(f"{path}: expected a JSON object with format {INDEX_FORMAT!r}")
        texts, labels = obj.get("texts"), obj.get("labels")
        if not (isinstance(texts, list) and all(isinstance(t, str) for t in texts)):
            raise ValueError(f"{path}: 'texts' must be a list of strings")
        if not (isinstance(labels, list) and all(_label_list(x, num_labels) for x in labels)):
            raise ValueError(f"{path}: 'labels' must be lists of label indices < {num_labels}")
        cached = None if embed is None else EmbeddingIndex.load(directory, len(texts), embed)
        return cls(texts, labels, options, embed=embed, embeddings=cached)


def _label_list(value: Any, num_labels: int) -> bool:
    return isinstance(value, list) and all(
        isinstance(i, int) and not isinstance(i, bool) and 0 <= i < num_labels for i in value
    )

"""TF-IDF vectors of tokenised texts: ``tf = 1 + log(count)`` (sublinear) or the count,
``idf = log((1 + N) / (1 + df)) + 1``, rows L2-normalised, as sparse rows (scipy CSR).

Why not scikit-learn's TfidfVectorizer: importing it costs about 140 MB of memory and a second
in every process that retrieves (a served model, each Ray worker), for a few array operations.
These are scikit-learn's operations in its order (vocabulary by first use, then sorted; each
row's entries in the order it stores them; the row norm summed term by term), so the vectors,
and every similarity and neighbour computed from them, are the same bit for bit
(tests/data/test_tfidf.py checks it against scikit-learn).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # scipy is imported where rows are built: `--help` reads this module's names
    from scipy import sparse

Analyzer = Callable[[str], list[str]]  # a text's terms


class TfidfVectors:
    """A vocabulary and idf weights fitted on documents; `fit_transform` / `transform` give
    their L2-normalised TF-IDF rows."""

    def __init__(self, analyzer: Analyzer, *, sublinear_tf: bool = True, min_df: int = 1):
        self.analyzer = analyzer
        self.sublinear_tf = sublinear_tf
        self.min_df = min_df
        self.vocabulary: dict[str, int] = {}
        self.idf = np.zeros(0)

    def fit_transform(self, documents: Sequence[str]) -> sparse.csr_array:
        """Fit the vocabulary (terms in at least `min_df` documents) and idf on `documents`
        and return their rows; ValueError when no document has a term."""
        first_use: dict[str, int] = {}
        counts = _count(documents, self.analyzer, _first_use_column(first_use))
        if not first_use:
            raise ValueError("empty vocabulary: no document has a term")
        if self.min_df > 1:
            counts, first_use = _frequent(counts, first_use, self.min_df)
            if not first_use:
                raise ValueError(f"no term is in {self.min_df} or more documents")
        # the vocabulary in sorted order; each row keeps its entries' order (by first use)
        self.vocabulary = {}  # a second fit starts afresh
        rank = np.empty(len(first_use), dtype=counts.indices.dtype)
        for position, (term, first) in enumerate(sorted(first_use.items())):
            self.vocabulary[term] = position
            rank[first] = position
        counts.indices = rank.take(counts.indices)
        document_frequency = np.bincount(counts.indices, minlength=len(first_use))
        self.idf = np.full(len(first_use), len(documents) + 1, dtype=np.float64)
        self.idf /= document_frequency.astype(np.float64) + 1.0
        np.log(self.idf, out=self.idf)
        self.idf += 1.0
        return self._weigh(counts)

    def transform(self, texts: Sequence[str]) -> sparse.csr_array:
        """Rows of new texts over the fitted vocabulary (unknown terms are left out)."""
        counts = _count(texts, self.analyzer, self.vocabulary.get, len(self.vocabulary))
        return self._weigh(counts)

    def _weigh(self, counts: sparse.csr_array) -> sparse.csr_array:
        rows = counts  # weighted in place
        if self.sublinear_tf:
            np.log(rows.data, out=rows.data)
            rows.data += 1.0
        rows.data *= self.idf[rows.indices]
        data = rows.data
        for start, end in zip(rows.indptr[:-1], rows.indptr[1:], strict=True):
            total = 0.0  # summed term by term, as scikit-learn's row normalisation does
            for value in data[start:end].tolist():
                total += value * value
            if total != 0.0:
                data[start:end] /= math.sqrt(total)
        return rows


def _first_use_column(first_use: dict[str, int]) -> Callable[[str], int]:
    """A term's column in order of first use, a new one for a new term."""
    return lambda term: first_use.setdefault(term, len(first_use))


def _count(
    texts: Sequence[str],
    analyzer: Analyzer,
    column: Callable[[str], int | None],
    width: int | None = None,
) -> sparse.csr_array:
    """Term counts (float64), one row per text and `width` columns (default: as many as
    `column` gave out); `column` gives a term's column or None to leave the term out. A row's
    entries are sorted by column."""
    from scipy import sparse

    columns: list[int] = []
    values: list[int] = []
    indptr = [0]
    for text in texts:
        row: dict[int, int] = {}
        for term in analyzer(text):
            if (found := column(term)) is not None:
                row[found] = row.get(found, 0) + 1
        for found in sorted(row):
            columns.append(found)
            values.append(row[found])
        indptr.append(len(columns))
    width = max(columns, default=-1) + 1 if width is None else width
    return sparse.csr_array(
        (
            np.asarray(values, dtype=np.float64),
            np.asarray(columns, dtype=np.int32),
            np.asarray(indptr, dtype=np.int32),
        ),
        shape=(len(texts), width),
    )


def _frequent(
    counts: sparse.csr_array, first_use: dict[str, int], min_df: int
) -> tuple[sparse.csr_array, dict[str, int]]:
    """The counts and vocabulary without the terms in fewer than `min_df` rows (columns
    renumbered in order, entries kept in order)."""
    from scipy import sparse

    keep = np.bincount(counts.indices, minlength=len(first_use)) >= min_df
    renumber = (np.cumsum(keep) - 1).astype(counts.indices.dtype)
    kept = keep[counts.indices]  # per entry
    indptr = np.concatenate([[0], np.cumsum(kept)])[counts.indptr].astype(counts.indptr.dtype)
    reduced = sparse.csr_array(
        (counts.data[kept], renumber[counts.indices[kept]], indptr),
        shape=(counts.shape[0], int(keep.sum())),
    )
    vocabulary = {term: int(renumber[first]) for term, first in first_use.items() if keep[first]}
    return reduced, vocabulary

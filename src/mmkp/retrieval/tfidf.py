"""TF-IDF vectors and cosine similarity in plain numpy, through an inverted index.

A document is a list of tokens. Weight of term t in document d:
``tf(t, d) * idf(t)`` with ``tf = 1 + log(count)`` when `sublinear_tf`, else the raw count, and
``idf = log((1 + N) / (1 + df(t))) + 1`` (smoothed, as in scikit-learn); rows are L2-normalised,
so the dot product of two rows is their cosine similarity.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# Tokens the benchmark uses as structure or placeholders, not content.
_SKIP = frozenset({"<seg>", ";"})
_WORD = re.compile(r"\w")


def content_tokens(text: str) -> list[str]:
    """Lowercased whitespace tokens that contain a letter or digit, minus `<seg>` and `;`."""
    return [tok for tok in text.lower().split() if tok not in _SKIP and _WORD.search(tok)]


@dataclass(frozen=True)
class TfidfOptions:
    sublinear_tf: bool = True
    min_df: int = 1
    # Also index adjacent-token pairs, so multi-word names (and keyphrases) count as a unit.
    bigrams: bool = False


class TfidfIndex:
    """TF-IDF rows of a collection, searchable by cosine similarity to a new document."""

    def __init__(self, documents: Sequence[Sequence[str]], options: TfidfOptions | None = None):
        self.options = options or TfidfOptions()
        counts = [self._terms(doc) for doc in documents]
        df = Counter(term for doc in counts for term in doc)
        terms = sorted(term for term, n in df.items() if n >= self.options.min_df)
        self.vocab = {term: i for i, term in enumerate(terms)}
        n_docs = len(documents)
        self.idf = np.array([math.log((1 + n_docs) / (1 + df[t])) + 1 for t in terms])  # (V,)
        self.n_docs = n_docs
        postings: list[list[tuple[int, float]]] = [[] for _ in terms]
        for row, doc in enumerate(counts):
            for term, weight in self._weights(doc).items():
                postings[term].append((row, weight))
        # Inverted index: for each term, the rows that contain it and their weights.
        self._rows = [np.array([r for r, _ in p], dtype=np.int64) for p in postings]
        self._vals = [np.array([w for _, w in p]) for p in postings]

    def _terms(self, tokens: Sequence[str]) -> Counter[str]:
        terms = Counter(tokens)
        if self.options.bigrams:
            terms.update(f"{a} {b}" for a, b in itertools.pairwise(tokens))
        return terms

    def _weights(self, terms: Counter[str]) -> dict[int, float]:
        """L2-normalised TF-IDF weights of a document's in-vocabulary terms, by term id."""
        raw = {}
        for term, count in terms.items():
            index = self.vocab.get(term)
            if index is not None:
                tf = 1 + math.log(count) if self.options.sublinear_tf else count
                raw[index] = tf * self.idf[index]
        norm = math.sqrt(sum(w * w for w in raw.values()))
        return {i: w / norm for i, w in raw.items()} if norm > 0 else {}

    def similarities(self, tokens: Sequence[str]) -> np.ndarray:
        """Cosine similarity of a new document to every indexed one."""
        scores = np.zeros(self.n_docs)  # (N,)
        for index, weight in self._weights(self._terms(tokens)).items():
            scores[self._rows[index]] += weight * self._vals[index]
        return scores

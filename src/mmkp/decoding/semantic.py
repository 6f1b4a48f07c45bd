"""Beyond the paper: the semantic term of the rerank, MiniLM cosines of post and keyphrase.

With `decode.semantic_weight` s > 0 the rerank (`mmkp.decoding.rerank`) mixes a third
distribution over each post's candidates,

    semantic(kp) = softmax_kp( cos(e(post), e(kp)) / T ),    T = decode.semantic_temperature

where e is the frozen all-MiniLM-L6-v2 sentence embedding (`mmkp.features.sentence_encoder`)
and the post is its text X_S or its whole source X_T (`decode.semantic_text`). A post is
embedded once per decode; a keyphrase once per scorer: the candidates of a batch that are not
yet cached are embedded in one call, and many repeat across posts (hashtags, labels). The
training keyphrases can come embedded already (`known`: a model directory's
keyphrases-minilm.npy, `mmkp.inference.keyphrase_embeddings`): of the 4,789 candidates the
shipped model's scorer embeds for the 600 dev posts, 1,995 are training keyphrases.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from mmkp.data.embedding_index import Embed, semantic_text

# semantic_text (which text of a post MiniLM reads) lives with the sentence text it builds on,
# since the model's sentence features choose with it too; importable from here as before.
__all__ = ["SemanticQueries", "SemanticScorer", "semantic_text", "softmax"]

# Keyphrase embeddings kept besides the known ones (384 float32 each: about 28 MB at most).
# Distinct posts add ~3.7 generated keyphrases each and few recur (a quarter of the lookups
# of 2,000 distinct posts hit): 100,000 grew to ~150 MB over a long stream for the same speed
# (benchmarks/RESULTS.md, "Issue 21, session 6").
CACHE_SIZE = 16_384


def softmax(values: Sequence[float], temperature: float) -> list[float]:
    """softmax(values / temperature), computed from the largest value (no overflow)."""
    scaled = np.asarray(values, dtype=np.float64) / temperature
    exp = np.exp(scaled - scaled.max())
    return (exp / exp.sum()).tolist()


@dataclass(frozen=True)
class SemanticQueries:
    """A batch's post embeddings (B, D) and the scorer that embeds their candidates."""

    scorer: SemanticScorer
    posts: np.ndarray  # (B, D) unit-length

    def cosines(self, candidates: Sequence[Sequence[str]]) -> list[dict[str, float]]:
        """Each row's cosine to each of its candidate keyphrases, by text."""
        return self.scorer.cosines(self.posts, candidates)


class SemanticScorer:
    """Cosines between posts and keyphrases, keyphrase embeddings cached by text (LRU);
    `known` keyphrases (text -> unit-length row) are never embedded nor evicted."""

    def __init__(
        self,
        embed: Embed,
        *,
        known: Mapping[str, np.ndarray] | None = None,
        cache_size: int = CACHE_SIZE,
    ):
        self._embed = embed
        self._known = dict(known or {})
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size

    def queries(self, texts: Sequence[str]) -> SemanticQueries:
        """The batch's posts, embedded in one call."""
        return SemanticQueries(self, self._embed(texts))

    def cosines(
        self, posts: np.ndarray, candidates: Sequence[Sequence[str]]
    ) -> list[dict[str, float]]:
        """posts (B, D), candidates: B lists of keyphrases -> B {keyphrase: cosine}."""
        wanted = list(dict.fromkeys(text for row in candidates for text in row))
        cached = [text for text in wanted if text not in self._known]
        new = [text for text in cached if text not in self._cache]
        for text, vector in zip(new, self._embed(new), strict=True):
            self._cache[text] = vector
        vectors = {t: self._known[t] if t in self._known else self._cache[t] for t in wanted}
        out = [
            {text: float(post @ vectors[text]) for text in row}
            for post, row in zip(posts, candidates, strict=True)
        ]
        for text in cached:
            self._cache.move_to_end(text)  # recently used last: evicted last
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return out

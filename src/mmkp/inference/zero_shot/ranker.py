"""The zero-shot ranker: candidates scored against the whole post, then picked for diversity.

A candidate's relevance is a weighted sum (weights in `ZeroShotConfig`, chosen on the dev
split of the benchmark's real posts, benchmarks/zero_shot.py):

    relevance = similarity · cos(e_c, e_post)      MiniLM embeddings (KeyBERT's whole score)
              + rarity · mean word rarity           a hashtag is rarer than the words around it
              + length[n]                           gold keyphrases have 1.85 words on average
              + hashtag / entity                    a raw post's hashtag; an entity name only
              + early · (1 - first position)        topics are named early in a post

Candidates are then picked greedily by maximal marginal relevance, each time the one with the
highest `relevance - diversity · max cos(e_c, e_picked)`, so the list does not spend its five
places on one phrase and its sub-phrases. Those gains never grow from one pick to the next,
so they are the returned scores (best first).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mmkp.data.record import Post
from mmkp.decoding.generate import ScoredKeyphrase
from mmkp.features.sentence_encoder import SentenceEncoder
from mmkp.inference.checkpoint import ZERO_SHOT
from mmkp.inference.zero_shot.candidates import ENTITY, HASHTAG, Candidate, rarity
from mmkp.model.config import ModelConfig


@dataclass(frozen=True)
class ZeroShotConfig(ModelConfig):
    """The ranker's weights (module docstring) and the candidates' limits; the word embedding
    settings it inherits do not apply (it has no vocabulary of its own)."""

    name: str = ZERO_SHOT
    similarity: float = 1.0
    rarity: float = 0.8
    length: tuple[float, ...] = (0.0, -0.15, -0.35)  # by number of words, 1..max_words
    hashtag: float = 1.0  # no hashtags in the benchmark's texts: set to outweigh the rest
    entity: float = -0.1
    early: float = 0.1
    diversity: float = 0.1
    max_words: int = 3
    ocr_words: int = 64

    def __post_init__(self) -> None:
        super().__post_init__()
        if len(self.length) != self.max_words:
            raise ValueError(
                f"length needs one weight per phrase length 1..{self.max_words}, "
                f"got {len(self.length)}"
            )


def post_text(post: Post) -> str:
    """What a candidate is compared with: the text, the OCR text and the entity names."""
    return " . ".join(part for part in (post.text, post.ocr, ", ".join(post.entity_names)) if part)


def relevance(candidate: Candidate, similarity: float, config: ZeroShotConfig) -> float:
    """The weighted sum of the module docstring for one candidate."""
    words = candidate.words
    score = config.similarity * similarity
    score += config.rarity * sum(rarity(w) for w in words) / len(words)
    score += config.length[len(words) - 1]
    if HASHTAG in candidate.sources:
        score += config.hashtag
    elif candidate.sources == {ENTITY}:
        score += config.entity
    return score + config.early * (1.0 - candidate.first)


def pick(
    candidates: Sequence[Candidate],
    embeddings: np.ndarray,  # (C, 384) unit length, one per candidate
    post_embedding: np.ndarray,  # (384,)
    config: ZeroShotConfig,
    top_k: int,
) -> list[ScoredKeyphrase]:
    """The top_k candidates by maximal marginal relevance, each with its gain."""
    if not candidates:
        return []
    similarity = embeddings @ post_embedding  # (C,)
    scores = np.array(
        [relevance(c, float(s), config) for c, s in zip(candidates, similarity, strict=True)]
    )
    redundancy = np.full(len(candidates), -np.inf)  # max cosine to a picked candidate
    picked: list[ScoredKeyphrase] = []
    available = np.ones(len(candidates), dtype=bool)
    for _ in range(min(top_k, len(candidates))):
        penalty = config.diversity * np.maximum(redundancy, 0.0) if picked else 0.0
        gains = np.where(available, scores - penalty, -np.inf)
        best = int(np.argmax(gains))
        picked.append(ScoredKeyphrase(candidates[best].text, float(gains[best])))
        available[best] = False
        redundancy = np.maximum(redundancy, embeddings @ embeddings[best])
    return picked


def rank_posts(
    posts: Sequence[Post],
    candidate_lists: Sequence[Sequence[Candidate]],
    encoder: SentenceEncoder,
    config: ZeroShotConfig,
    top_k: int,
) -> list[list[ScoredKeyphrase]]:
    """Each post's keyphrases, best first; every distinct phrase is encoded once."""
    phrases = sorted({c.text for cands in candidate_lists for c in cands})
    row = {phrase: i for i, phrase in enumerate(phrases)}
    phrase_embeddings = encoder.encode(phrases)  # (P, 384)
    post_embeddings = encoder.encode([post_text(p) for p in posts])  # (N, 384)
    return [
        pick(cands, phrase_embeddings[[row[c.text] for c in cands]], post_emb, config, top_k)
        for cands, post_emb in zip(candidate_lists, post_embeddings, strict=True)
    ]

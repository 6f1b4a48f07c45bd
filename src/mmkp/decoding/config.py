"""How keyphrases are searched and returned (the `decode:` config section; also stored in
every checkpoint). Its defaults are written here only; `generate_keyphrases` takes it whole.

A field whose metadata has `REQUEST` (`request_field`) may be overridden per request by the
service: `mmkp serve` builds its request fields from these, with the bounds and the
description given here (docs/serve.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from mmkp.decoding.penalties import PENALTIES

REQUEST = "request"  # field metadata: a setting an API request may override (serve)
MAX_PER_REQUEST = 50  # the largest top_k and beam_size a request may ask for


def request_field(default: Any, description: str, **bounds: Any) -> Any:
    """A field a request may override, with its inclusive bounds for the API (ge=, le=)."""
    return field(default=default, metadata={REQUEST: {"description": description, **bounds}})


@dataclass(frozen=True)
class DecodeConfig:
    beam_size: int = request_field(10, "beam width", ge=1, le=MAX_PER_REQUEST)  # 10: the paper
    max_len: int = 6  # tokens per keyphrase, <eos> included
    top_k: int = request_field(5, "keyphrases to return", ge=1, le=MAX_PER_REQUEST)  # per post
    strategy: Literal["beam", "greedy"] = "beam"
    penalty: str = "average"  # length normalisation of the ranking score (decoding.penalties)
    # Block punctuation and placeholders, which no hashtag contains (decoding.generate).
    words_only: bool = True
    # Keep only keyphrases scored within this gap (length-normalised log-probability) of the
    # post's best; None keeps all top_k (the paper). See docs/decoding.md.
    max_score_gap: float | None = None
    # Beyond the paper: rerank the output with the votes of the post's nearest training posts
    # (decoding.rerank; needs a model with `retrieval`); 0 leaves the model's ranking alone.
    neighbour_weight: float = 0.0
    # How many of its own keyphrases the model puts up for that rerank (at least top_k).
    rerank_candidates: int = 10
    # Beyond the paper: a third rerank term, a softmax at `semantic_temperature` over the
    # candidates' MiniLM cosine to the post's text X_S ("post") or whole source X_T
    # ("source") (decoding.semantic); 0 leaves it out. neighbour_weight + this <= 1.
    semantic_weight: float = 0.0
    semantic_text: Literal["post", "source"] = "post"
    semantic_temperature: float = 0.1
    # Beyond the paper: never generate a word a keyphrase already holds ("profile profile
    # pic"), which 1% of gold keyphrases do (decoding.strategy). Off: on the shipped config's
    # model it lowered dev F1@1, F1@3 and MAP@5 (benchmarks/RESULTS.md, "Repeated words").
    block_repeats: bool = request_field(False, "never repeat a word inside one keyphrase")

    def __post_init__(self) -> None:
        if min(self.beam_size, self.max_len, self.top_k) < 1:
            raise ValueError(
                "beam_size, max_len and top_k must be >= 1, got "
                f"{self.beam_size}, {self.max_len}, {self.top_k}"
            )
        if self.penalty not in PENALTIES:
            raise ValueError(
                f"unknown length penalty {self.penalty!r}; known: {', '.join(sorted(PENALTIES))}"
            )
        if not 0.0 <= self.neighbour_weight <= 1.0:
            raise ValueError(f"neighbour_weight must be in [0, 1], got {self.neighbour_weight}")
        if not 0.0 <= self.semantic_weight <= 1.0 - self.neighbour_weight:
            raise ValueError(
                "semantic_weight must be in [0, 1 - neighbour_weight], got "
                f"{self.semantic_weight} with neighbour_weight {self.neighbour_weight}"
            )
        if self.semantic_temperature <= 0:
            raise ValueError(f"semantic_temperature must be > 0, got {self.semantic_temperature}")
        if self.rerank_candidates < 1:
            raise ValueError(f"rerank_candidates must be >= 1, got {self.rerank_candidates}")
        if self.max_score_gap is not None and self.max_score_gap < 0:
            raise ValueError(f"max_score_gap must be >= 0, got {self.max_score_gap}")

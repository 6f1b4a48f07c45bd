"""How keyphrases are searched and returned (the `decode:` config section; also stored in
every checkpoint). Its defaults are written here only; `generate_keyphrases` takes it whole."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mmkp.decoding.penalties import PENALTIES


@dataclass(frozen=True)
class DecodeConfig:
    beam_size: int = 10  # the paper's beam width
    max_len: int = 6  # tokens per keyphrase, <eos> included
    top_k: int = 5  # keyphrases per post
    strategy: Literal["beam", "greedy"] = "beam"
    penalty: str = "average"  # length normalisation of the ranking score (decoding.penalties)
    # Block punctuation and placeholders, which no hashtag contains (decoding.generate).
    words_only: bool = True
    # Keep only keyphrases scored within this gap (length-normalised log-probability) of the
    # post's best; None keeps all top_k (the paper). See docs/decoding.md.
    max_score_gap: float | None = None

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
        if self.max_score_gap is not None and self.max_score_gap < 0:
            raise ValueError(f"max_score_gap must be >= 0, got {self.max_score_gap}")

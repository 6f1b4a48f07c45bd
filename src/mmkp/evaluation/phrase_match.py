"""How the standard evaluator compares keyphrases: Porter stems, filtering, dedup, presence.

Every keyphrase becomes a tuple of lowercased, Porter-stemmed tokens (NLTK's PorterStemmer in
its default NLTK_EXTENSIONS mode, loaded by `mmkp.evaluation.porter`). Two phrases match when
their stem tuples are equal.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache

from mmkp.evaluation.porter import porter_stemmer_class

Phrase = tuple[str, ...]

# A prediction holding one of these tokens is dropped (the decoder's unknown word and the
# punctuation a generator can emit; such phrases are never hashtags).
INVALID_TOKENS = frozenset({"<unk>", ",", "."})

_PORTER = porter_stemmer_class()()  # nltk's, without importing nltk (`porter`)


@cache
def stem_token(token: str) -> str:
    """Lowercase and Porter-stem one token; cached because stemming dominates evaluation time."""
    return _PORTER.stem(token.lower())


def stem_phrase(text: str) -> Phrase:
    """Split on whitespace and stem every token: "Running Shoes" -> ("run", "shoe")."""
    return tuple(stem_token(token) for token in text.split())


def unique(phrases: Iterable[Phrase]) -> list[Phrase]:
    """Drop repeated phrases, keeping the first occurrence (and so the ranking) of each."""
    return list(dict.fromkeys(phrases))


def is_valid_prediction(text: str) -> bool:
    """False for empty predictions and those containing `<unk>`, `,` or `.` as a token."""
    tokens = text.lower().split()
    return bool(tokens) and INVALID_TOKENS.isdisjoint(tokens)


def clean_predictions(keyphrases: Sequence[str]) -> list[Phrase]:
    """Ranked predictions -> valid, stemmed, deduplicated phrases (first occurrence kept)."""
    return unique(stem_phrase(kp) for kp in keyphrases if is_valid_prediction(kp))


def clean_gold(keyphrases: Sequence[str]) -> list[Phrase]:
    """Gold keyphrases -> stemmed, deduplicated phrases (gold is not filtered otherwise)."""
    return unique(phrase for phrase in map(stem_phrase, keyphrases) if phrase)


def is_present(phrase: Phrase, source: Phrase) -> bool:
    """True when the stemmed phrase occurs as a contiguous token run of the stemmed source."""
    n = len(phrase)
    return any(source[i : i + n] == phrase for i in range(len(source) - n + 1))


@dataclass(frozen=True)
class MatchedPost:
    """One post's cleaned predictions and gold, each phrase flagged present in the source."""

    predictions: list[Phrase]
    gold: list[Phrase]
    prediction_present: list[bool]
    gold_present: list[bool]

    @classmethod
    def build(cls, keyphrases: Sequence[str], gold: Sequence[str], source: str) -> MatchedPost:
        """`source` is the post's X_T (post <seg> OCR <seg> entities), as in the benchmark."""
        source_stems = stem_phrase(source)
        predictions, gold_phrases = clean_predictions(keyphrases), clean_gold(gold)
        return cls(
            predictions=predictions,
            gold=gold_phrases,
            prediction_present=[is_present(p, source_stems) for p in predictions],
            gold_present=[is_present(g, source_stems) for g in gold_phrases],
        )

    def has_gold(self, present: bool) -> bool:
        """Whether the post has at least one gold phrase of that kind (present or absent)."""
        return present in self.gold_present

    def of_kind(self, present: bool) -> tuple[list[Phrase], list[Phrase]]:
        """(predictions, gold) restricted to present (True) or absent (False) phrases."""
        return (
            [
                p
                for p, flag in zip(self.predictions, self.prediction_present, strict=True)
                if flag == present
            ],
            [g for g, flag in zip(self.gold, self.gold_present, strict=True) if flag == present],
        )

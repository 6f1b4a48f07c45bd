"""The word vocabulary and the keyphrase label set, both built from training posts only.

Both are saved as JSON next to a model so a checkpoint decodes with exactly the ids it was
trained with. Counting ties are broken alphabetically so that building twice from the same
posts gives the same ids.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from mmkp.data.layout import SEG, AttributeSource, source_tokens
from mmkp.data.record import Post
from mmkp.io import write_json_atomic

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<bos>", "<eos>"
SPECIALS = (PAD, UNK, BOS, EOS, SEG)
PAD_ID, UNK_ID, BOS_ID, EOS_ID, SEG_ID = range(len(SPECIALS))

VOCAB_FORMAT = "mmkp-vocab"
LABELS_FORMAT = "mmkp-labels"


def normalise_keyphrase(keyphrase: str) -> str:
    """One space between words, no outer spaces: the form stored in the label set."""
    return " ".join(keyphrase.split())


def _ranked(counts: Counter[str], *, min_count: int, max_size: int | None) -> list[str]:
    """Most frequent first, ties alphabetical; entries below `min_count` dropped."""
    ranked = sorted((item for item in counts.items() if item[1] >= min_count), key=_by_count)
    return [key for key, _ in ranked[:max_size]]


def _by_count(item: tuple[str, int]) -> tuple[int, str]:
    return -item[1], item[0]


def _load(path: str | Path, kind: str, key: str) -> list[str]:
    """Read a saved vocabulary / label list, checking its format tag and element types."""
    try:
        obj: Any = json.loads(Path(path).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not a JSON {kind} file ({exc})") from exc
    if not isinstance(obj, dict) or obj.get("format") != kind:
        raise ValueError(f"{path}: expected a JSON object with format {kind!r}")
    items = obj.get(key)
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise ValueError(f"{path}: field {key!r} must be a list of strings")
    if len(set(items)) != len(items):
        raise ValueError(f"{path}: field {key!r} has duplicate entries")
    return items


class Vocab:
    """Word <-> id map: the five specials at ids 0..4, then words by falling frequency."""

    def __init__(self, words: Sequence[str]):
        if tuple(words[: len(SPECIALS)]) != SPECIALS:
            raise ValueError(f"a vocabulary must start with {SPECIALS}, got {tuple(words[:5])}")
        self._words = list(words)
        self._ids = {word: i for i, word in enumerate(self._words)}
        if len(self._ids) != len(self._words):
            raise ValueError("a vocabulary cannot hold the same word twice")

    @classmethod
    def build(
        cls,
        posts: Iterable[Post],
        *,
        max_size: int | None = None,
        min_count: int = 1,
        use_ocr: bool = True,
        use_entities: bool = True,
        attributes: AttributeSource = "none",
    ) -> Vocab:
        """Count source words and target keyphrase words; keep the `max_size` most frequent.

        `max_size` does not count the specials. Target words are counted too so that frequent
        absent keyphrases (most of the benchmark's) can be generated, not only copied.
        """
        counts: Counter[str] = Counter()
        for post in posts:
            words = source_tokens(
                post, use_ocr=use_ocr, use_entities=use_entities, attributes=attributes
            )
            counts.update(words)
            for keyphrase in post.keyphrases:
                counts.update(keyphrase.split())
        for special in SPECIALS:
            counts.pop(special, None)
        return cls([*SPECIALS, *_ranked(counts, min_count=min_count, max_size=max_size)])

    def __len__(self) -> int:
        return len(self._words)

    def __contains__(self, word: object) -> bool:
        return word in self._ids

    def id(self, word: str) -> int:
        """The word's id, `<unk>`'s id if it is out of vocabulary."""
        return self._ids.get(word, UNK_ID)

    def encode(self, tokens: Iterable[str]) -> list[int]:
        return [self._ids.get(token, UNK_ID) for token in tokens]

    def word(self, index: int) -> str:
        if not 0 <= index < len(self._words):
            raise IndexError(f"word id {index} is outside the vocabulary (size {len(self)})")
        return self._words[index]

    def decode(self, ids: Iterable[int], oov_words: Sequence[str] = ()) -> list[str]:
        """Words of (extended) ids; id `len(self) + k` is `oov_words[k]` (see batching)."""
        size = len(self._words)
        return [self._words[i] if i < size else oov_words[i - size] for i in ids]

    @property
    def words(self) -> list[str]:
        return list(self._words)

    def save(self, path: str | Path) -> None:
        write_json_atomic(path, {"format": VOCAB_FORMAT, "version": 1, "words": self._words})

    @classmethod
    def load(cls, path: str | Path) -> Vocab:
        words = _load(path, VOCAB_FORMAT, "words")
        if tuple(words[: len(SPECIALS)]) != SPECIALS:
            raise ValueError(f"{path}: the words must start with the specials {SPECIALS}")
        return cls(words)


class LabelSet:
    """The training keyphrases the classifier predicts (eq. 8), most frequent first."""

    def __init__(self, keyphrases: Sequence[str]):
        self._keyphrases = [normalise_keyphrase(kp) for kp in keyphrases]
        self._index = {kp: i for i, kp in enumerate(self._keyphrases)}
        if len(self._index) != len(self._keyphrases) or "" in self._index:
            raise ValueError("a label set needs distinct, non-empty keyphrases")

    @classmethod
    def build(
        cls, posts: Iterable[Post], *, min_count: int = 1, max_size: int | None = None
    ) -> LabelSet:
        """Keyphrases in >= `min_count` posts, the `max_size` most frequent (all if None)."""
        counts: Counter[str] = Counter()
        for post in posts:
            counts.update({normalise_keyphrase(kp) for kp in post.keyphrases} - {""})
        return cls(_ranked(counts, min_count=min_count, max_size=max_size))

    def __len__(self) -> int:
        return len(self._keyphrases)

    def __contains__(self, keyphrase: object) -> bool:
        return isinstance(keyphrase, str) and normalise_keyphrase(keyphrase) in self._index

    def index(self, keyphrase: str) -> int | None:
        """The label index of a keyphrase (whitespace-normalised), None if it is not a label."""
        return self._index.get(normalise_keyphrase(keyphrase))

    def keyphrase(self, index: int) -> str:
        return self._keyphrases[index]

    def words(self, index: int) -> list[str]:
        """The label's words, e.g. to look up their vocabulary ids for the decoder's copy."""
        return self._keyphrases[index].split()

    @property
    def keyphrases(self) -> list[str]:
        return list(self._keyphrases)

    def save(self, path: str | Path) -> None:
        write_json_atomic(
            path, {"format": LABELS_FORMAT, "version": 1, "keyphrases": self._keyphrases}
        )

    @classmethod
    def load(cls, path: str | Path) -> LabelSet:
        keyphrases = _load(path, LABELS_FORMAT, "keyphrases")
        if any(kp != normalise_keyphrase(kp) or not kp for kp in keyphrases):
            raise ValueError(f"{path}: keyphrases must be non-empty with single spaces")
        return cls(keyphrases)

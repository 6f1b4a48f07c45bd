"""The text processor: posts -> model rows (`Example`), with the options a model was trained
with (`TextOptions`, stored in every checkpoint so inference builds X_T the same way).

Out-of-vocabulary source words get per-example extended ids `len(vocab) + k`, numbered by
first occurrence, so the copy mechanism can produce them; a target word gets its extended id
when it occurs in the source and `<unk>` otherwise. The layout of X_T is `mmkp.data.layout`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

from mmkp.data.batch import IGNORE_LABEL
from mmkp.data.layout import SEG, AttributeSource, joined, segments
from mmkp.data.record import Post
from mmkp.data.vocab import UNK_ID, LabelSet, Vocab

# How a post's keyphrases become training rows: one row per keyphrase (one2one), or one row
# per post whose target is all its keyphrases joined by <seg> (one2seq; `joined_examples`).
TargetMode = Literal["one2one", "one2seq"]
T = TypeVar("T")


@dataclass(frozen=True)
class TextOptions:
    """Which parts of a post enter X_T, and how long X_T may be."""

    use_ocr: bool = True
    use_entities: bool = True
    max_src_len: int = 128  # ~97th percentile of the benchmark's X_T lengths; long OCR is cut
    # A fourth segment X_A of image attribute words (mmkp.data.layout), for M3H-ATT
    attributes: AttributeSource = "none"


@dataclass(frozen=True)
class Source:
    """One post's X_T: tokens, their segment types, vocabulary and extended ids."""

    tokens: tuple[str, ...]
    types: tuple[int, ...]
    ids: tuple[int, ...]  # OOV -> <unk>
    ext_ids: tuple[int, ...]  # OOV -> len(vocab) + k
    oov_words: tuple[str, ...]  # the words behind the extended ids, by first occurrence
    vocab_size: int  # extended ids start here


@dataclass(frozen=True)
class Example:
    """One model row: a post's source and (in one2one mode) one of its gold keyphrases."""

    post_id: str
    post_index: int  # position of the post in the list given to `TextProcessor.examples`
    source: Source
    trg_tokens: tuple[str, ...]  # empty for inference rows
    trg_ids: tuple[int, ...]  # vocabulary ids of trg_tokens, OOV -> <unk>
    trg_ext_ids: tuple[int, ...]  # extended ids of trg_tokens (copyable OOV words)
    label: int  # LabelSet index of the keyphrase, IGNORE_LABEL if none
    match_label: float  # 1/0 image-text relevance, nan if unknown
    match_prob: float  # precomputed match probability, nan if unknown
    has_image: bool  # the post names an image

    @property
    def src_tokens(self) -> tuple[str, ...]:
        return self.source.tokens

    @property
    def src_types(self) -> tuple[int, ...]:
        return self.source.types


class TextProcessor:
    """Turns posts into examples for one vocabulary, label set and `TextOptions`.

    `match_label_keys`: the post fields read, in order, as the 0/1 image-text relevance label
    of L_itm (eq. 16); none by default, so no field becomes a label unless a config names it
    (the benchmark's field 4 is a precomputed matcher's guess, not a human label)."""

    def __init__(
        self,
        vocab: Vocab,
        labels: LabelSet,
        options: TextOptions | None = None,
        *,
        match_label_keys: tuple[str, ...] = (),
    ):
        self.vocab = vocab
        self.labels = labels
        self.options = options or TextOptions()
        self.match_label_keys = match_label_keys

    def source(self, post: Post) -> Source:
        options, vocab = self.options, self.vocab
        tokens, types = joined(
            *segments(
                post,
                use_ocr=options.use_ocr,
                use_entities=options.use_entities,
                max_src_len=options.max_src_len,
                attributes=options.attributes,
            )
        )
        oov: dict[str, int] = {}
        ext_ids = []
        for token in tokens:
            if token in vocab:
                ext_ids.append(vocab.id(token))
            else:
                ext_ids.append(oov.setdefault(token, len(vocab) + len(oov)))
        return Source(
            tokens=tuple(tokens),
            types=tuple(types),
            ids=tuple(vocab.encode(tokens)),
            ext_ids=tuple(ext_ids),
            oov_words=tuple(oov),
            vocab_size=len(vocab),
        )

    def examples(self, posts: Sequence[Post], *, one2one: bool = True) -> list[Example]:
        """One row per (post, gold keyphrase) in one2one mode, else one row per post.

        A post without keyphrases (inference) gives one row with an empty target in both
        modes; with `one2one=False` every row has an empty target and no label.
        """
        examples = []
        for index, post in enumerate(posts):
            source = self.source(post)
            targets: list[str | None] = list(post.keyphrases) if one2one else []
            for keyphrase in targets or [None]:
                examples.append(self._example(post, index, source, keyphrase))
        return examples

    def joined_examples(self, posts: Sequence[Post]) -> list[Example]:
        """One row per post whose target is all its keyphrases, present ones first (in order
        of first occurrence in X_T), then absent ones (in the post's order), joined by
        `<seg>` as One2Seq/One2Set train on them (Ye et al., 2021); the row has no label. A
        post without keyphrases gives a row with an empty target."""
        examples = []
        for index, post in enumerate(posts):
            source = self.source(post)
            ordered = present_first(post.keyphrases, source.tokens)
            target = f" {SEG} ".join(ordered) if ordered else None
            examples.append(self._example(post, index, source, target, label=False))
        return examples

    def _example(
        self,
        post: Post,
        index: int,
        source: Source,
        keyphrase: str | None,
        *,
        label: bool = True,
    ) -> Example:
        vocab = self.vocab
        words = tuple(keyphrase.split()) if keyphrase is not None else ()
        oov = {word: len(vocab) + k for k, word in enumerate(source.oov_words)}
        label_id = self.labels.index(keyphrase) if keyphrase is not None and label else None
        return Example(
            post_id=post.id,
            post_index=index,
            source=source,
            trg_tokens=words,
            trg_ids=tuple(vocab.encode(words)),
            trg_ext_ids=tuple(vocab.id(w) if w in vocab else oov.get(w, UNK_ID) for w in words),
            label=IGNORE_LABEL if label_id is None else label_id,
            match_label=match_label(post, self.match_label_keys),
            match_prob=math.nan if post.match is None else post.match,
            has_image=post.image is not None,
        )


def find_phrase(phrase: Sequence[T], tokens: Sequence[T]) -> int | None:
    """The first position where `phrase` occurs contiguously in `tokens` (words or ids),
    None when it does not (or is empty)."""
    width = len(phrase)
    if width == 0:
        return None
    for start in range(len(tokens) - width + 1):
        if tuple(tokens[start : start + width]) == tuple(phrase):
            return start
    return None


def present_first(keyphrases: Sequence[str], tokens: Sequence[str]) -> list[str]:
    """Keyphrases found in `tokens` by first occurrence, then the others in their order."""
    found = [(find_phrase(kp.split(), tokens), i, kp) for i, kp in enumerate(keyphrases)]
    present = sorted((start, i, kp) for start, i, kp in found if start is not None)
    return [kp for *_, kp in present] + [kp for start, _, kp in found if start is None]


def match_label(post: Post, keys: tuple[str, ...]) -> float:
    """The first of `keys` the post carries, as 1.0/0.0 relevance; nan when none."""
    for key in keys:
        value = post.extra.get(key)
        if value is None:
            continue
        if value not in (0, 1):  # also rejects nan and strings
            raise ValueError(f"post {post.id!r}: {key} must be 0 or 1, got {value!r}")
        return float(value)
    return math.nan

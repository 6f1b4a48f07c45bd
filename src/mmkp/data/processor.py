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

from mmkp.data.batch import IGNORE_LABEL
from mmkp.data.layout import joined, segments
from mmkp.data.record import Post
from mmkp.data.vocab import UNK_ID, LabelSet, Vocab


@dataclass(frozen=True)
class TextOptions:
    """Which parts of a post enter X_T, and how long X_T may be."""

    use_ocr: bool = True
    use_entities: bool = True
    max_src_len: int = 128  # ~97th percentile of the benchmark's X_T lengths; long OCR is cut


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

    def _example(self, post: Post, index: int, source: Source, keyphrase: str | None) -> Example:
        vocab = self.vocab
        words = tuple(keyphrase.split()) if keyphrase is not None else ()
        oov = {word: len(vocab) + k for k, word in enumerate(source.oov_words)}
        label = self.labels.index(keyphrase) if keyphrase is not None else None
        return Example(
            post_id=post.id,
            post_index=index,
            source=source,
            trg_tokens=words,
            trg_ids=tuple(vocab.encode(words)),
            trg_ext_ids=tuple(vocab.id(w) if w in vocab else oov.get(w, UNK_ID) for w in words),
            label=IGNORE_LABEL if label is None else label,
            match_label=match_label(post, self.match_label_keys),
            match_prob=math.nan if post.match is None else post.match,
            has_image=post.image is not None,
        )


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

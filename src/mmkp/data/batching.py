"""Posts -> one2one examples -> padded `Batch` tensors (see `mmkp.data.batch`).

The source of every example is X_T = X_S `<seg>` X_O `<seg>` X_E (eq. 1): post words, OCR
words, entity names joined with " ; " as in the benchmark files. Each `<seg>` opens the
segment after it and carries that segment's type, so the types read 0..0 1 1..1 2 2..2.
Both `<seg>` are kept when OCR or entities are switched off or empty (the benchmark writes an
empty OCR as `<seg>   <seg>` too), so the model always sees the same three-part layout.

Out-of-vocabulary source words get per-example extended ids `len(vocab) + k`, numbered by
first occurrence, so the copy mechanism can produce them; a target word gets its extended id
when it occurs in the source and `<unk>` otherwise.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from mmkp.data.batch import TYPE_ENTITY, TYPE_OCR, TYPE_POST, Batch
from mmkp.data.record import Post
from mmkp.data.vocab import BOS_ID, ENTITY_SEP, EOS_ID, PAD_ID, SEG, UNK_ID, LabelSet, Vocab

GridLookup = Callable[[str], np.ndarray | None]
IGNORE_LABEL = -100  # torch's cross-entropy ignore_index: the row has no classifier label
DEFAULT_MAX_SRC_LEN = 128  # ~97th percentile of the benchmark's X_T lengths; long OCR is cut


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
    post_index: int  # position of the post in the list given to `make_examples`
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


def source_segments(
    post: Post, *, use_ocr: bool, use_entities: bool, max_src_len: int
) -> tuple[list[str], list[str], list[str]]:
    """Post, OCR and entity tokens, cut to fit `max_src_len` with the two `<seg>`.

    Cutting takes from the end of the OCR first (it is the long, noisy part), then the post,
    then the entities, so a long OCR text never pushes the entities out.
    """
    post_tokens = post.text.split()
    ocr = post.ocr.split() if use_ocr else []
    entities = f" {ENTITY_SEP} ".join(post.entity_names).split() if use_entities else []
    excess = len(post_tokens) + len(ocr) + len(entities) + 2 - max_src_len
    segments = [ocr, post_tokens, entities]
    for segment in segments:
        cut = min(max(excess, 0), len(segment))
        del segment[len(segment) - cut :]
        excess -= cut
    return post_tokens, ocr, entities


def build_source(
    post: Post, vocab: Vocab, *, use_ocr: bool, use_entities: bool, max_src_len: int
) -> Source:
    if max_src_len < 2:
        raise ValueError(f"max_src_len must leave room for the two {SEG}, got {max_src_len}")
    text, ocr, entities = source_segments(
        post, use_ocr=use_ocr, use_entities=use_entities, max_src_len=max_src_len
    )
    tokens = [*text, SEG, *ocr, SEG, *entities]
    types = [TYPE_POST] * len(text) + [TYPE_OCR] * (len(ocr) + 1)
    types += [TYPE_ENTITY] * (len(entities) + 1)
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


def _match_label(post: Post) -> float:
    """TRC-style relevance (`match_label`, else `relevant`) as 1.0/0.0, nan when absent."""
    for key in ("match_label", "relevant"):
        value = post.extra.get(key)
        if value is None:
            continue
        if value not in (0, 1):  # also rejects nan and strings
            raise ValueError(f"post {post.id!r}: {key} must be 0 or 1, got {value!r}")
        return float(value)
    return math.nan


def _example(
    post: Post, index: int, source: Source, keyphrase: str | None, vocab: Vocab, labels: LabelSet
) -> Example:
    words = tuple(keyphrase.split()) if keyphrase is not None else ()
    oov = {word: len(vocab) + k for k, word in enumerate(source.oov_words)}
    label = labels.index(keyphrase) if keyphrase is not None else None
    return Example(
        post_id=post.id,
        post_index=index,
        source=source,
        trg_tokens=words,
        trg_ids=tuple(vocab.encode(words)),
        trg_ext_ids=tuple(vocab.id(w) if w in vocab else oov.get(w, UNK_ID) for w in words),
        label=IGNORE_LABEL if label is None else label,
        match_label=_match_label(post),
        match_prob=math.nan if post.match is None else post.match,
        has_image=post.image is not None,
    )


def make_examples(
    posts: Sequence[Post],
    vocab: Vocab,
    labels: LabelSet,
    *,
    use_ocr: bool = True,
    use_entities: bool = True,
    one2one: bool = True,
    max_src_len: int = DEFAULT_MAX_SRC_LEN,
) -> list[Example]:
    """One row per (post, gold keyphrase) in one2one mode, else one row per post.

    A post without keyphrases (inference) gives one row with an empty target in both modes;
    with `one2one=False` every row has an empty target and no label (prediction inputs).
    """
    examples = []
    for index, post in enumerate(posts):
        source = build_source(
            post, vocab, use_ocr=use_ocr, use_entities=use_entities, max_src_len=max_src_len
        )
        targets: list[str | None] = list(post.keyphrases) if one2one else []
        for keyphrase in targets or [None]:
            examples.append(_example(post, index, source, keyphrase, vocab, labels))
    return examples


def _pad(rows: Sequence[Sequence[int]], width: int, value: int) -> torch.Tensor:
    return torch.tensor([[*row, *[value] * (width - len(row))] for row in rows], dtype=torch.long)


def _grids(
    examples: Sequence[Example], grid_lookup: GridLookup | None
) -> tuple[torch.Tensor | None, torch.Tensor]:
    """Stacked (B, R, C) float32 grids, zeros where a post has none; None if no row has one."""
    found: dict[str, np.ndarray | None] = {}
    for example in examples:
        if grid_lookup is not None and example.post_id not in found:
            found[example.post_id] = grid_lookup(example.post_id)
    present = [found.get(example.post_id) for example in examples]
    has_image = torch.tensor([grid is not None for grid in present], dtype=torch.bool)
    shapes = {grid.shape for grid in present if grid is not None}
    if not shapes:
        return None, has_image
    if len(shapes) > 1 or len(next(iter(shapes))) != 2:
        raise ValueError(f"image grids must all have one (R, C) shape, got {sorted(shapes)}")
    zeros = np.zeros(next(iter(shapes)), dtype=np.float32)
    stacked = np.stack([zeros if grid is None else grid.astype(np.float32) for grid in present])
    return torch.from_numpy(stacked), has_image  # (B, R, C)


def collate(
    examples: Sequence[Example], vocab: Vocab | None = None, grid_lookup: GridLookup | None = None
) -> Batch:
    """Pad examples into a Batch; `grid_lookup(post_id)` gives a (49, C) grid or None.

    `vocab`, when given, is checked to be the one the examples were built with (their
    extended ids start at its size).

    Targets: trg_in = <bos> w1..wn, trg_out = w1..wn <eos> (extended ids); a row with an
    empty target has trg_in = <bos>, trg_out = <pad> and an all-False trg_mask, so it adds
    nothing to the generation loss. `has_image` is True exactly where the grid row is real.
    """
    if not examples:
        raise ValueError("cannot collate an empty list of examples")
    sizes = {e.source.vocab_size for e in examples} | ({len(vocab)} if vocab else set())
    if len(sizes) > 1:
        raise ValueError(f"examples built with vocabularies of sizes {sorted(sizes)}: rebuild")
    src_len = max(len(e.source.tokens) for e in examples)
    trg_in = [(BOS_ID, *e.trg_ids) for e in examples]
    trg_out = [(*e.trg_ext_ids, EOS_ID) if e.trg_tokens else () for e in examples]
    trg_len = max(len(row) for row in trg_in)  # (n + 1) for both trg_in and trg_out
    grid, has_image = _grids(examples, grid_lookup)
    src_ids = _pad([e.source.ids for e in examples], src_len, PAD_ID)  # (B, L)
    trg_out_ids = _pad(trg_out, trg_len, PAD_ID)  # (B, T)
    return Batch(
        src_ids=src_ids,
        src_ext_ids=_pad([e.source.ext_ids for e in examples], src_len, PAD_ID),
        src_types=_pad([e.source.types for e in examples], src_len, TYPE_POST),
        src_mask=_pad([[1] * len(e.source.ids) for e in examples], src_len, 0).bool(),
        oov_words=[list(e.source.oov_words) for e in examples],
        grid=grid,
        has_image=has_image,
        trg_in=_pad(trg_in, trg_len, PAD_ID),
        trg_out=trg_out_ids,
        trg_mask=_pad([[1] * len(row) for row in trg_out], trg_len, 0).bool(),
        label=torch.tensor([e.label for e in examples], dtype=torch.long),
        match_label=torch.tensor([e.match_label for e in examples], dtype=torch.float),
        match_prob=torch.tensor([e.match_prob for e in examples], dtype=torch.float),
        post_index=torch.tensor([e.post_index for e in examples], dtype=torch.long),
    )


def iter_batches(
    examples: Sequence[Example],
    batch_size: int,
    *,
    shuffle: bool,
    seed: int = 0,
    grid_lookup: GridLookup | None = None,
) -> Iterator[Batch]:
    """Batches of `batch_size` rows (the last may be smaller), in a seeded random order."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    order = list(range(len(examples)))
    if shuffle:
        random.Random(seed).shuffle(order)
    for start in range(0, len(order), batch_size):
        chunk = [examples[i] for i in order[start : start + batch_size]]
        yield collate(chunk, grid_lookup=grid_lookup)

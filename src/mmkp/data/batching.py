"""Examples (`mmkp.data.processor`) -> padded `Batch` tensors (see `mmkp.data.batch`), in
file, shuffled or length-sorted order."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

import numpy as np
import torch

from mmkp.data.batch import IGNORE_LABEL, Batch, GridLookup
from mmkp.data.layout import TYPE_POST
from mmkp.data.neighbours import NeighbourLookup, VotedLabels
from mmkp.data.processor import Example
from mmkp.data.vocab import BOS_ID, EOS_ID, PAD_ID, Vocab

T = TypeVar("T")
# A process's share of a split's batches, as row positions: whole batches, or part of each
# (mmkp.training.distributed)
Sharding = Callable[[list[list[int]]], list[list[int]]]


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


def pad_votes(votes: Sequence[VotedLabels | None]) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, m) label indices (IGNORE_LABEL-padded) and (B, m) votes (0-padded), one row per
    post's neighbour votes (None: no neighbours)."""
    labels = [() if v is None else v.labels for v in votes]
    weights = [() if v is None else v.weights for v in votes]
    width = max(1, *(len(row) for row in labels))
    padded = torch.tensor([[*w, *[0.0] * (width - len(w))] for w in weights], dtype=torch.float)
    return _pad(labels, width, IGNORE_LABEL), padded


def collate(
    examples: Sequence[Example],
    vocab: Vocab | None = None,
    grid_lookup: GridLookup | None = None,
    neighbours: NeighbourLookup | None = None,
    sentences: np.ndarray | None = None,
) -> Batch:
    """Pad examples into a Batch; `grid_lookup(post_id)` gives a (49, C) grid or None,
    `neighbours(post_index)` the post's neighbour votes (retrieval) or None, `sentences`
    (P, D) the sentence embedding of each post by post_index (`Batch.sentence`) or None.

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
    neighbour_labels, neighbour_weights = (
        (None, None)
        if neighbours is None
        else pad_votes([neighbours(example.post_index) for example in examples])
    )
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
        neighbour_labels=neighbour_labels,
        neighbour_weights=neighbour_weights,
        sentence=None if sentences is None else _sentences(examples, sentences),
    )


def _sentences(examples: Sequence[Example], sentences: np.ndarray) -> torch.Tensor:
    """(B, D) float32: each row's post embedding, picked by post_index from (P, D)."""
    rows = [example.post_index for example in examples]
    if sentences.ndim != 2 or max(rows) >= len(sentences):
        raise ValueError(
            f"sentence embeddings of shape {sentences.shape} do not cover post {max(rows)}: "
            "embed every post of the split"
        )
    return torch.from_numpy(np.ascontiguousarray(sentences[rows], dtype=np.float32))


def iter_batches(
    examples: Sequence[Example],
    batch_size: int,
    *,
    shuffle: bool,
    seed: int = 0,
    grid_lookup: GridLookup | None = None,
    neighbours: NeighbourLookup | None = None,
) -> Iterator[Batch]:
    """Batches of `batch_size` rows (the last may be smaller), in a seeded random order."""
    for group in batch_indices(len(examples), batch_size, shuffle=shuffle, seed=seed):
        chunk = [examples[i] for i in group]
        yield collate(chunk, grid_lookup=grid_lookup, neighbours=neighbours)


def batch_indices(count: int, batch_size: int, *, shuffle: bool, seed: int = 0) -> list[list[int]]:
    """`iter_batches`' row positions: `count` rows cut into batches of `batch_size`, in file
    order or shuffled by `seed`."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    order = list(range(count))
    if shuffle:
        random.Random(seed).shuffle(order)
    return [order[start : start + batch_size] for start in range(0, count, batch_size)]


def length_buckets(
    lengths: Sequence[int], batch_size: int, *, seed: int | None, pool: int = 50
) -> list[list[int]]:
    """Index batches whose rows have similar lengths.

    With a seed: shuffle, sort by length within pools of `pool` batches, cut into batches and
    shuffle the batch order, so batches stay random but pad little. Without: sorted by length.
    """
    order = list(range(len(lengths)))
    rng = random.Random(seed)
    if seed is not None:
        rng.shuffle(order)
    size = len(order) if seed is None else batch_size * pool
    groups: list[list[int]] = []
    for start in range(0, len(order), size):
        chunk = sorted(order[start : start + size], key=lengths.__getitem__)
        groups += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    if seed is not None:
        rng.shuffle(groups)
    return groups


def length_sorted_batches(
    examples: Sequence[Example],
    batch_size: int,
    *,
    grid_lookup: GridLookup | None = None,
    neighbours: NeighbourLookup | None = None,
    sentences: np.ndarray | None = None,
    shard: Sharding | None = None,
) -> Iterator[tuple[list[int], Batch]]:
    """Batches sorted by source length (less padding for beam search), each with the
    positions in `examples` of its rows, so a caller puts results back in order itself;
    `shard` keeps a process's share of the batches (distributed training's dev split)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    lengths = [len(example.src_tokens) for example in examples]
    groups = length_buckets(lengths, batch_size, seed=None)
    for group in groups if shard is None else shard(groups):
        rows = [examples[i] for i in group]
        batch = collate(rows, grid_lookup=grid_lookup, neighbours=neighbours, sentences=sentences)
        yield group, batch

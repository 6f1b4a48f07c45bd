"""Everything both stages read: the splits, the vocabulary and labels, examples, image grids."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from mmkp.config import DataConfig, SplitConfig
from mmkp.data.batch import Batch
from mmkp.data.batching import Example, collate, iter_batches, make_examples
from mmkp.data.errors import ErrorLog
from mmkp.data.formats import load_posts
from mmkp.data.record import Post
from mmkp.data.vocab import LabelSet, Vocab
from mmkp.features.store import FeatureStore

log = logging.getLogger("mmkp.training")
GridLookup = Callable[[str], np.ndarray | None]
T = TypeVar("T")


def load_split(split: SplitConfig) -> list[Post]:
    """The posts of one split: bad lines are reported and skipped, then `first..last` kept."""
    errors = ErrorLog()
    posts = load_posts(split.path, errors)
    if errors:
        log.warning("%s: skipped %d bad lines", split.path, len(errors))
    start = 0 if split.first is None else split.first - 1
    selected = posts[start : split.last]
    if not selected:
        raise ValueError(f"{split.path}: no posts in {split.first or 1}..{split.last or 'end'}")
    return selected


def example_options(config: DataConfig) -> dict[str, Any]:
    """The keyword arguments of `make_examples` that the data config decides."""
    return {
        "use_ocr": config.use_ocr,
        "use_entities": config.use_entities,
        "max_src_len": config.max_src_len,
    }


def open_grids(config: DataConfig) -> GridLookup | None:
    """Image grid features by post id from the configured FeatureStore; None: text only."""
    return FeatureStore.open(config.features).get if config.features else None


@dataclass
class TrainingData:
    """Prepared inputs: one2one examples for the losses, one row per dev post for predictions."""

    config: DataConfig
    train_posts: list[Post]
    dev_posts: list[Post]
    vocab: Vocab
    labels: LabelSet
    train_examples: list[Example]
    dev_examples: list[Example]
    dev_post_examples: list[Example]
    grid_lookup: GridLookup | None

    def batches(
        self,
        examples: list[Example],
        batch_size: int,
        *,
        seed: int | None,
        by_length: bool = False,
    ) -> Iterator[Batch]:
        """Batches in file order (`seed=None`) or shuffled by `seed`; `by_length` groups rows
        of similar source length (see `length_buckets`) so less time goes into padding."""
        if not by_length:
            return iter_batches(
                examples,
                batch_size,
                shuffle=seed is not None,
                seed=seed or 0,
                grid_lookup=self.grid_lookup,
            )
        lengths = [len(example.src_tokens) for example in examples]
        groups = length_buckets(lengths, batch_size, seed=seed)
        return (collate([examples[i] for i in g], grid_lookup=self.grid_lookup) for g in groups)


def in_length_order(
    examples: Sequence[Example],
    batch_size: int,
    grid_lookup: GridLookup | None,
    predict: Callable[[Iterable[Batch]], list[T]],
) -> list[T]:
    """`predict` over batches sorted by source length (less padding for beam search), its
    results put back in the order of `examples`."""
    lengths = [len(example.src_tokens) for example in examples]
    groups = length_buckets(lengths, batch_size, seed=None)
    batches = (collate([examples[i] for i in g], grid_lookup=grid_lookup) for g in groups)
    results = predict(batches)
    order = [i for group in groups for i in group]
    out: dict[int, T] = dict(zip(order, results, strict=True))
    return [out[i] for i in range(len(examples))]


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


def prepare_data(
    config: DataConfig, *, vocab: Vocab | None = None, labels: LabelSet | None = None
) -> TrainingData:
    """Read the splits and build (or reuse) the vocabulary and label set from training posts."""
    train_posts, dev_posts = load_split(config.train), load_split(config.dev)
    if vocab is None:
        vocab = Vocab.build(
            train_posts,
            max_size=config.vocab_size,
            min_count=config.min_word_count,
            use_ocr=config.use_ocr,
            use_entities=config.use_entities,
        )
    if labels is None:
        labels = LabelSet.build(train_posts, min_count=config.label_min_count)
    inputs = example_options(config)
    data = TrainingData(
        config=config,
        train_posts=train_posts,
        dev_posts=dev_posts,
        vocab=vocab,
        labels=labels,
        train_examples=make_examples(train_posts, vocab, labels, **inputs),
        dev_examples=make_examples(dev_posts, vocab, labels, **inputs),
        dev_post_examples=make_examples(dev_posts, vocab, labels, one2one=False, **inputs),
        grid_lookup=open_grids(config),
    )
    log.info(
        "data: %d train posts (%d pairs), %d dev posts; vocab %d, labels %d",
        len(train_posts),
        len(data.train_examples),
        len(dev_posts),
        len(vocab),
        len(labels),
    )
    return data

"""Everything both stages read: the splits, the vocabulary and labels, examples, image grids."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from mmkp.data.batch import Batch, GridLookup
from mmkp.data.batching import Sharding, batch_indices, collate, length_buckets
from mmkp.data.config import DataConfig, SplitConfig
from mmkp.data.embedding_index import Embed, semantic_text
from mmkp.data.errors import ErrorLog
from mmkp.data.formats import load_posts
from mmkp.data.neighbours import NeighbourLookup, RetrievalIndex, RetrievalOptions
from mmkp.data.overlap import split_overlap
from mmkp.data.processor import Example, TextProcessor
from mmkp.data.record import Post
from mmkp.data.vocab import LabelSet, Vocab
from mmkp.features.sentence_encoder import sentence_embed, shared_encoder
from mmkp.features.store import FeatureStore
from mmkp.model.config import ModelConfig
from mmkp.processing.processor import ProcessorConfig

log = logging.getLogger("mmkp.training")
T = TypeVar("T")
ITM_LABELS = ("match_label", "relevant")  # a D_itm pair's label: JSONL field, TRC `image_adds`


def load_split(split: SplitConfig) -> list[Post]:
    """The posts of one split: bad lines are reported and skipped, then `first..last` kept."""
    errors = ErrorLog()
    posts = load_posts(split.path, errors, attribute=split.attribute)
    if errors:
        log.warning("%s: skipped %d bad lines", split.path, len(errors))
    start = 0 if split.first is None else split.first - 1
    selected = posts[start : split.last]
    if not selected:
        raise ValueError(f"{split.path}: no posts in {split.first or 1}..{split.last or 'end'}")
    return selected


def open_grids(config: DataConfig) -> tuple[GridLookup | None, ProcessorConfig | None, int | None]:
    """Image grid features by post id from the configured FeatureStore, how they were made
    (saved with the model) and their width (channels); (None, None, None): text only."""
    if not config.features:
        return None, None, None
    store = FeatureStore.open(config.features)
    return store.get, ProcessorConfig.of_store(store), store.dim


def check_grid_width(model: ModelConfig, data: TrainingData) -> None:
    """A model reads grids as wide as the feature store's: a mismatch is one error before the
    model is built, naming both values, not a shape error at the first forward pass."""
    width = getattr(model, "image_dim", None)
    if data.grid_width is None or width is None or width == data.grid_width:
        return
    raise ValueError(
        f"model.image_dim is {width} but the feature store {data.config.features} holds "
        f"{data.grid_width}-channel grids ({data.backbone}); set model.image_dim: "
        f"{data.grid_width}"
    )


@dataclass
class TrainingData:
    """Prepared inputs: examples for the losses (one2one, or one2seq per `data.targets`), one
    row per dev post for predictions."""

    config: DataConfig
    train_posts: list[Post]
    dev_posts: list[Post]
    test_posts: list[Post]  # empty without `data.test`
    vocab: Vocab
    labels: LabelSet
    train_examples: list[Example]
    dev_examples: list[Example]
    dev_post_examples: list[Example]
    itm_examples: list[Example]  # D_itm pairs (no keyphrase), empty without `data.itm`
    grid_lookup: GridLookup | None
    # how the grids were made (None: text only), saved with every checkpoint (processor.json)
    processor: ProcessorConfig | None
    grid_width: int | None  # the grids' channels (None: text only)

    @property
    def backbone(self) -> str | None:
        """The CNN of the grids (config.json's `backbone`); None: text only."""
        return (
            None
            if self.processor is None or self.processor.featurizer is None
            else (self.processor.featurizer.backbone)
        )

    # With the model's `retrieval`: the index of the training posts (saved with the model)
    # and each split's neighbour votes by post position; training posts never retrieve
    # themselves. D_itm pairs have no neighbours.
    retrieval: RetrievalIndex | None = None
    train_neighbours: NeighbourLookup | None = None
    dev_neighbours: NeighbourLookup | None = None
    # With the model's `sentence_input` (MM-MKP's `sentence_features`): each split's posts'
    # MiniLM embeddings (P, 384) by post position, embedded once here (`Batch.sentence`).
    train_sentences: np.ndarray | None = None
    dev_sentences: np.ndarray | None = None
    itm_sentences: np.ndarray | None = None

    @property
    def itm_neighbours(self) -> NeighbourLookup | None:
        return None if self.retrieval is None else _no_neighbours

    def batches(
        self,
        examples: list[Example],
        batch_size: int,
        *,
        seed: int | None,
        by_length: bool = False,
        neighbours: NeighbourLookup | None = None,
        sentences: np.ndarray | None = None,
        shard: Sharding | None = None,
    ) -> Iterator[Batch]:
        """Batches in file order (`seed=None`) or shuffled by `seed`; `by_length` groups rows
        of similar source length (see `length_buckets`) so less time goes into padding;
        `neighbours`: the split's retrieval votes; `sentences`: its posts' embeddings;
        `shard`: this process's share of the batches (`mmkp.training.distributed`), chosen
        before any is collated."""
        if by_length:
            lengths = [len(example.src_tokens) for example in examples]
            groups = length_buckets(lengths, batch_size, seed=seed)
        else:
            shuffle = seed is not None
            groups = batch_indices(len(examples), batch_size, shuffle=shuffle, seed=seed or 0)
        if shard is not None:
            groups = shard(groups)
        return (
            collate(
                [examples[i] for i in g],
                grid_lookup=self.grid_lookup,
                neighbours=neighbours,
                sentences=sentences,
            )
            for g in groups
        )

    def training_batches(
        self,
        batch_size: int,
        *,
        seed: int,
        by_length: bool,
        with_itm: bool,
        shard: Sharding | None = None,
    ) -> tuple[Iterator[Batch], int]:
        """One epoch's batches (collated as they are consumed) and how many: the keyphrase
        pairs, and with `with_itm` the D_itm pairs' batches interleaved (`interleave`); each
        D_itm batch trains L_itm only, since its rows have neither a keyphrase nor a label.
        `shard` keeps this process's rows of every batch (distributed training)."""
        main = self.batches(
            self.train_examples,
            batch_size,
            seed=seed,
            by_length=by_length,
            neighbours=self.train_neighbours,
            sentences=self.train_sentences,
            shard=shard,
        )
        pairs = self.itm_examples if with_itm else []
        extra = self.batches(
            pairs,
            batch_size,
            seed=seed + 1,
            by_length=by_length,
            neighbours=self.itm_neighbours,
            sentences=self.itm_sentences,
            shard=shard,
        )
        counts = -(-len(self.train_examples) // batch_size), -(-len(pairs) // batch_size)
        return interleave(main, counts[0], extra, counts[1]), sum(counts)


def interleave(
    main: Iterable[T], main_count: int, extra: Iterable[T], extra_count: int
) -> Iterator[T]:
    """`extra` spread evenly among `main` (item j after main item round((j+1)·K/(M+1))), so
    an epoch sees D_itm batches throughout instead of in one block, and `main` keeps its
    order (the keyphrase batches of a run without D_itm are unchanged). Lazy: nothing is
    drawn before it is needed."""
    slots = [round((j + 1) * main_count / (extra_count + 1)) for j in range(extra_count)]
    main_items, extra_items = iter(main), iter(extra)
    placed = 0
    for index in range(main_count + 1):
        while placed < extra_count and slots[placed] == index:
            yield next(extra_items)
            placed += 1
        if index < main_count:
            yield next(main_items)


def _no_neighbours(_: int) -> None:
    return None


def prepare_data(
    config: DataConfig,
    *,
    vocab: Vocab | None = None,
    labels: LabelSet | None = None,
    retrieval: RetrievalOptions | None = None,
    sentence_input: str | None = None,
) -> TrainingData:
    """Read the splits and build (or reuse) the vocabulary and label set from training posts;
    with `retrieval` (the model's), the retrieval index and every split's neighbour votes;
    with `sentence_input` (the model's: "post" or "source"), every split's posts' MiniLM
    embeddings of that text."""
    train_posts, dev_posts = load_split(config.train), load_split(config.dev)
    test_posts = load_split(config.test) if config.test is not None else []
    for warning in split_overlap(train_posts, dev_posts, test_posts or None):
        log.warning("%s", warning)
    if vocab is None:
        vocab = Vocab.build(
            train_posts,
            max_size=config.vocab_size,
            min_count=config.min_word_count,
            use_ocr=config.use_ocr,
            use_entities=config.use_entities,
            attributes=config.attributes,
        )
    if labels is None:
        labels = LabelSet.build(train_posts, min_count=config.label_min_count)
    post_labels = () if config.post_match_label is None else (config.post_match_label,)
    processor = TextProcessor(vocab, labels, config.text, match_label_keys=post_labels)
    itm_processor = TextProcessor(vocab, labels, config.text, match_label_keys=ITM_LABELS)
    itm_posts = load_split(config.itm) if config.itm is not None else []
    grid_lookup, processor_config, grid_width = open_grids(config)
    rows = processor.joined_examples if config.targets == "one2seq" else processor.examples
    data = TrainingData(
        config=config,
        train_posts=train_posts,
        dev_posts=dev_posts,
        test_posts=test_posts,
        vocab=vocab,
        labels=labels,
        train_examples=rows(train_posts),
        dev_examples=rows(dev_posts),
        dev_post_examples=processor.examples(dev_posts, one2one=False),
        itm_examples=itm_processor.examples(itm_posts, one2one=False),
        grid_lookup=grid_lookup,
        processor=processor_config,
        grid_width=grid_width,
    )
    embed = sentence_embed()  # MiniLM, loaded at its first call, shared by both uses below
    if retrieval is not None:
        dense = None if retrieval.encoder == "tfidf" else embed  # MiniLM: embedded once
        index = RetrievalIndex.build(train_posts, labels, retrieval, embed=dense)
        data.retrieval = index
        data.train_neighbours = index.lookup(train_posts, exclude_self=True)
        data.dev_neighbours = index.lookup(dev_posts)
    if sentence_input is not None:
        data.train_sentences = _train_sentences(embed, data, sentence_input)
        data.dev_sentences = _embed_posts(embed, dev_posts, sentence_input)
        data.itm_sentences = _embed_posts(embed, itm_posts, sentence_input)
    # Every embedding the epochs read is made: MiniLM's 90 MB need not stay through training
    # (scoring the final model loads it again for the rerank).
    shared_encoder().unload()
    log.info(
        "data: %d train posts (%d pairs), %d dev posts, %d D_itm pairs; vocab %d, labels %d",
        len(train_posts),
        len(data.train_examples),
        len(dev_posts),
        len(itm_posts),
        len(vocab),
        len(labels),
    )
    return data


def _train_sentences(embed: Embed, data: TrainingData, which: str) -> np.ndarray:
    """The training posts' embeddings: a MiniLM retrieval index already holds those of X_T
    (`semantic_text(post, "source")`, the texts it indexes), so "source" reuses them."""
    dense = None if data.retrieval is None else data.retrieval.dense
    if which == "source" and dense is not None:
        return dense.embeddings
    return _embed_posts(embed, data.train_posts, which)


def _embed_posts(embed: Embed, posts: list[Post], which: str) -> np.ndarray:
    """(P, 384) MiniLM embeddings of the posts' `which` text ("post" or "source")."""
    log.info("sentence features: embedding %d posts' %s text with MiniLM", len(posts), which)
    return embed([semantic_text(post, which) for post in posts])

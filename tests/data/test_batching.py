import math

import numpy as np
import pytest
import torch

from mmkp.data.batch import IGNORE_LABEL
from mmkp.data.batching import collate, iter_batches
from mmkp.data.layout import TYPE_ENTITY, TYPE_OCR, TYPE_POST
from mmkp.data.processor import TextOptions, TextProcessor
from mmkp.data.record import Entity, Post
from mmkp.data.vocab import BOS_ID, EOS_ID, PAD_ID, SEG_ID, UNK_ID, LabelSet, Vocab

# ids: 0-4 specials, then by count: a(5) b(6) ;(7) cat(8)
VOCAB = Vocab(["<pad>", "<unk>", "<bos>", "<eos>", "<seg>", "a", "b", ";", "cat"])
LABELS = LabelSet(["a b", "cat"])
KEYS = ("match_label", "relevant")  # TRC-style relevance fields, read as L_itm labels


def post_one() -> Post:
    return Post(
        "p1",
        "a zeta b zeta",
        image="x.jpg",
        ocr="omega",
        entities=[Entity("cat"), Entity("big dog")],
        keyphrases=["a b", "zeta cat", "omega nu"],
        match=0.75,
        extra={"match_label": 1},
    )


def post_two() -> Post:
    return Post("p2", "b", keyphrases=[], extra={"relevant": 0})


def test_source_types_and_extended_ids():
    example = TextProcessor(VOCAB, LABELS).examples([post_one()])[0]
    source = example.source
    assert source.tokens == (
        "a", "zeta", "b", "zeta", "<seg>", "omega", "<seg>", "cat", ";", "big", "dog",
    )  # fmt: skip
    assert source.types == (0, 0, 0, 0, 1, 1, 2, 2, 2, 2, 2)
    assert source.ids == (5, 1, 6, 1, 4, 1, 4, 8, 7, 1, 1)
    # OOV words numbered from len(vocab) = 9 by first occurrence
    assert source.oov_words == ("zeta", "omega", "big", "dog")
    assert source.ext_ids == (5, 9, 6, 9, 4, 10, 4, 8, 7, 11, 12)


def test_one2one_rows_targets_and_labels():
    examples = TextProcessor(VOCAB, LABELS).examples([post_one(), post_two()])
    assert [e.trg_tokens for e in examples] == [("a", "b"), ("zeta", "cat"), ("omega", "nu"), ()]
    assert [e.trg_ids for e in examples] == [(5, 6), (1, 8), (1, 1), ()]
    # an OOV target word found in the source gets its extended id, otherwise <unk>
    assert [e.trg_ext_ids for e in examples] == [(5, 6), (9, 8), (10, UNK_ID), ()]
    assert [e.label for e in examples] == [0, IGNORE_LABEL, IGNORE_LABEL, IGNORE_LABEL]
    assert [e.post_index for e in examples] == [0, 0, 0, 1]
    assert examples[0].source is examples[2].source
    rows = TextProcessor(VOCAB, LABELS).examples([post_one(), post_two()], one2one=False)
    assert [(e.post_id, e.trg_tokens, e.label) for e in rows] == [
        ("p1", (), IGNORE_LABEL),
        ("p2", (), IGNORE_LABEL),
    ]


def test_input_switches_keep_both_seg_and_truncation_cuts_ocr_first():
    post = post_one()
    no_ocr = TextProcessor(VOCAB, LABELS, TextOptions(use_ocr=False, use_entities=False)).examples(
        [post]
    )[0]
    assert no_ocr.src_tokens == ("a", "zeta", "b", "zeta", "<seg>", "<seg>")
    assert no_ocr.src_types == (0, 0, 0, 0, 1, 2)
    cut = TextProcessor(VOCAB, LABELS, TextOptions(max_src_len=9)).examples([post])[0]
    assert cut.src_tokens == ("a", "zeta", "b", "<seg>", "<seg>", "cat", ";", "big", "dog")
    tiny = TextProcessor(VOCAB, LABELS, TextOptions(max_src_len=2)).examples([post])[0]
    assert tiny.src_tokens == ("<seg>", "<seg>")
    with pytest.raises(ValueError, match="max_src_len must leave room"):
        TextProcessor(VOCAB, LABELS, TextOptions(max_src_len=1)).examples([post])


def test_collate_pads_and_masks():
    processor = TextProcessor(VOCAB, LABELS, match_label_keys=KEYS)
    examples = processor.examples([post_one(), post_two()])
    batch = collate([examples[1], examples[3]], VOCAB)
    assert batch.src_ids.tolist() == [
        [5, 1, 6, 1, 4, 1, 4, 8, 7, 1, 1],
        [6, SEG_ID, SEG_ID] + [PAD_ID] * 8,
    ]
    assert batch.src_types[1].tolist() == [TYPE_POST, TYPE_OCR, TYPE_ENTITY] + [TYPE_POST] * 8
    assert batch.src_mask.dtype == torch.bool
    assert batch.src_mask.sum(1).tolist() == [11, 3]
    assert batch.oov_words == [["zeta", "omega", "big", "dog"], []]
    assert batch.max_oov == 4
    assert batch.trg_in.tolist() == [[BOS_ID, 1, 8], [BOS_ID, PAD_ID, PAD_ID]]
    assert batch.trg_out.tolist() == [[9, 8, EOS_ID], [PAD_ID] * 3]
    assert batch.trg_mask.tolist() == [[True, True, True], [False, False, False]]
    assert batch.label.tolist() == [IGNORE_LABEL, IGNORE_LABEL]
    assert batch.match_label.tolist() == [1.0, 0.0]
    assert batch.match_prob[0].item() == 0.75 and math.isnan(batch.match_prob[1].item())
    assert batch.post_index.tolist() == [0, 1]
    assert batch.grid is None and batch.has_image.tolist() == [False, False]


def test_collate_grids_zero_for_missing_and_checks_vocab():
    examples = TextProcessor(VOCAB, LABELS).examples([post_one(), post_two()])
    grid = np.arange(49 * 3, dtype=np.float16).reshape(49, 3)
    calls = []

    def lookup(post_id: str) -> np.ndarray | None:
        calls.append(post_id)
        return grid if post_id == "p1" else None

    batch = collate(examples, VOCAB, grid_lookup=lookup)
    assert calls == ["p1", "p2"]  # one lookup per post, not per row
    assert batch.grid.dtype == torch.float32 and batch.grid.shape == (4, 49, 3)
    assert torch.equal(batch.grid[2], torch.from_numpy(grid.astype(np.float32)))
    assert batch.grid[3].abs().sum().item() == 0
    assert batch.has_image.tolist() == [True, True, True, False]
    assert collate(examples[3:], grid_lookup=lambda _: None).grid is None
    with pytest.raises(ValueError, match=r"vocabularies of sizes \[9, 10\]"):
        collate(examples, Vocab([*VOCAB.words, "extra"]))


def test_match_label_must_be_binary():
    bad = Post("p9", "a", extra={"relevant": "yes"})
    with pytest.raises(ValueError, match="post 'p9': relevant must be 0 or 1, got 'yes'"):
        TextProcessor(VOCAB, LABELS, match_label_keys=KEYS).examples([bad])


def test_no_field_is_a_match_label_unless_named():
    """The benchmark's field 4 (`match_label`) is a precomputed matcher's argmax: only a
    config that names the field turns it into an L_itm label."""
    (row,) = TextProcessor(VOCAB, LABELS).examples([post_two()])
    assert math.isnan(row.match_label)
    (row,) = TextProcessor(VOCAB, LABELS, match_label_keys=("match_label",)).examples([post_two()])
    assert math.isnan(row.match_label)  # it has `relevant`, not `match_label`


def test_iter_batches_is_deterministic_given_seed():
    posts = [Post(str(i), "a b", keyphrases=["a"]) for i in range(10)]
    examples = TextProcessor(VOCAB, LABELS).examples(posts)

    def order(seed: int) -> list[list[int]]:
        return [
            b.post_index.tolist()
            for b in iter_batches(examples, 4, shuffle=True, seed=seed, grid_lookup=None)
        ]

    assert order(3) == order(3)
    assert order(3) != order(4)
    assert sorted(i for rows in order(3) for i in rows) == list(range(10))
    assert [len(b) for b in order(3)] == [4, 4, 2]
    plain = [b.post_index.tolist() for b in iter_batches(examples, 4, shuffle=False)]
    assert plain == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_collate_pads_the_neighbour_votes_of_each_row():
    from mmkp.data.batching import collate
    from mmkp.data.neighbours import VotedLabels
    from mmkp.data.processor import TextProcessor
    from mmkp.data.record import Post
    from mmkp.data.vocab import LabelSet, Vocab

    posts = [Post("p", "cats sofa", keyphrases=["cats"]), Post("q", "dogs", keyphrases=["dogs"])]
    processor = TextProcessor(Vocab.build(posts), LabelSet.build(posts))
    votes = [VotedLabels((1, 0), (0.75, 0.25)), None]
    batch = collate(processor.examples(posts), neighbours=votes.__getitem__)
    assert batch.neighbour_labels.tolist() == [[1, 0], [-100, -100]]
    assert batch.neighbour_weights.tolist() == [[0.75, 0.25], [0.0, 0.0]]
    assert collate(processor.examples(posts)).neighbour_labels is None


def test_collate_gives_each_row_its_posts_sentence_embedding():
    posts = [
        Post("p", "cats sofa", keyphrases=["cats", "sofa"]),
        Post("q", "dogs", keyphrases=["dogs"]),
    ]
    examples = TextProcessor(Vocab.build(posts), LabelSet.build(posts)).examples(posts)
    sentences = np.arange(6, dtype=np.float64).reshape(2, 3)  # (P, D) by post position
    batch = collate(examples, sentences=sentences)  # rows: p, p, q
    assert batch.sentence.dtype == torch.float32
    assert batch.sentence.tolist() == [[0, 1, 2], [0, 1, 2], [3, 4, 5]]
    assert collate(examples).sentence is None
    with pytest.raises(ValueError, match=r"shape \(1, 3\) do not cover post 1"):
        collate(examples, sentences=sentences[:1])

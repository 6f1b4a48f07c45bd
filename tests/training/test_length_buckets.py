from mmkp.data.batching import length_buckets, length_sorted_batches
from mmkp.data.processor import TextProcessor
from mmkp.data.vocab import LabelSet, Vocab
from mmkp.training.data import load_split

LENGTHS = [5, 1, 9, 3, 7, 2, 8, 4, 6, 10]


def test_without_a_seed_batches_are_sorted_by_length():
    assert length_buckets(LENGTHS, 3, seed=None) == [[1, 5, 3], [7, 0, 8], [4, 6, 2], [9]]


def test_with_a_seed_every_row_appears_once_and_batches_come_from_sorted_pools():
    groups = length_buckets(LENGTHS, 2, seed=3, pool=2)  # pools of 4 rows
    assert sorted(i for g in groups for i in g) == list(range(10))
    assert all(len(g) == 2 for g in groups)
    for group in groups:
        assert LENGTHS[group[0]] <= LENGTHS[group[1]]
    assert groups == length_buckets(LENGTHS, 2, seed=3, pool=2)
    assert groups != length_buckets(LENGTHS, 2, seed=4, pool=2)


def test_length_sorted_batches_are_sorted_and_say_where_their_rows_belong(tiny_config):
    posts = load_split(tiny_config.data.train)
    vocab = Vocab.build(posts)
    examples = TextProcessor(vocab, LabelSet.build(posts)).examples(posts, one2one=False)
    widths: list[int] = []
    lengths: list[int | None] = [None] * len(examples)
    for rows, batch in length_sorted_batches(examples, 5):
        widths.append(batch.src_ids.size(1))
        for i, n in zip(rows, batch.src_mask.sum(dim=1), strict=True):
            lengths[i] = int(n)
    assert lengths == [len(example.src_tokens) for example in examples]
    assert widths == sorted(widths)  # each batch padded only to its own, sorted lengths

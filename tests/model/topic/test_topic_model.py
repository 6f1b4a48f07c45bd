"""The neural topic model shared by TMN and TAKG: its bag of words, BoW vocabulary, loss."""

from __future__ import annotations

import math

import pytest
import torch

from mmkp.data.vocab import SPECIALS, Vocab
from mmkp.model.modules.topic_model import (
    TopicMixture,
    TopicModel,
    bow_word_ids,
    topic_model_loss,
)
from mmkp.model.outputs import Losses

from ..seq2seq.helpers import train_steps


def test_the_bag_of_words_counts_bow_words_of_real_tokens():
    model = TopicModel(10, [7, 3, 5], num_topics=2, hidden_size=4)
    ids = torch.tensor([[3, 7, 7, 9, 5], [5, 1, 2, 5, 3]])
    mask = torch.tensor([[True, True, True, True, False], [True, True, True, False, False]])
    counts = model.bag_of_words(ids, mask)  # columns: ids 7, 3, 5
    assert counts.tolist() == [[2.0, 1.0, 0.0], [0.0, 0.0, 1.0]]


def test_the_bow_vocabulary_is_the_most_frequent_topic_words():
    words = ["the", "game", "<url>", "x", "!", "lakers", "2020", "The", "win"]
    vocab = Vocab([*SPECIALS, *words])
    first = len(SPECIALS)
    assert bow_word_ids(vocab, 10) == [first + 1, first + 5, first + 8]  # game lakers win
    assert bow_word_ids(vocab, 2) == [first + 1, first + 5]
    with pytest.raises(ValueError, match="hold no topic word"):
        bow_word_ids(Vocab([*SPECIALS, "the", "<url>", "!"]), 10)


def test_the_loss_is_the_negative_elbo():
    """counts (1, 0, 2) under p = (1/2, 1/4, 1/4): reconstruction 5 ln 2; KL of
    N((1, 0), I) against N(0, I) is 1/2."""
    mixture = TopicMixture(
        counts=torch.tensor([[1.0, 0.0, 2.0]]),
        theta=torch.tensor([[0.5, 0.5]]),
        mu=torch.tensor([[1.0, 0.0]]),
        logvar=torch.zeros(1, 2),
        log_probs=torch.tensor([[0.5, 0.25, 0.25]]).log(),
    )
    assert topic_model_loss(mixture).item() == pytest.approx(5 * math.log(2) + 0.5)


def test_mixtures_are_distributions_sampled_in_training_only(batch):
    torch.manual_seed(0)
    model = TopicModel(50, list(range(5, 45)), num_topics=4, hidden_size=8)
    train = model(batch.src_ids, batch.src_mask)
    assert train.theta.shape == (4, 4) and train.log_probs.shape == (4, 40)
    torch.testing.assert_close(train.theta.sum(-1), torch.ones(4))
    torch.testing.assert_close(train.log_probs.exp().sum(-1), torch.ones(4))
    torch.testing.assert_close(model.topic_words().sum(-1), torch.ones(4))
    assert not torch.equal(model(batch.src_ids, batch.src_mask).theta, train.theta)
    model.eval()
    first, second = (model(batch.src_ids, batch.src_mask) for _ in range(2))
    assert torch.equal(first.theta, second.theta)


class _TopicOnly(torch.nn.Module):
    """The topic model as a one-term model, for `train_steps`."""

    def __init__(self) -> None:
        super().__init__()
        self.topic_model = TopicModel(50, list(range(5, 45)), num_topics=4, hidden_size=16)

    def forward(self, batch, terms):
        return Losses(ntm=topic_model_loss(self.topic_model(batch.src_ids, batch.src_mask)))


def test_the_loss_falls_on_a_tiny_batch(batch):
    """Towards the rows' BoW entropy (each row has 4-7 distinct words: a floor near 8)."""
    torch.manual_seed(0)
    losses = train_steps(_TopicOnly(), batch, ["ntm"], steps=40)
    assert losses[-1] < 0.8 * losses[0]

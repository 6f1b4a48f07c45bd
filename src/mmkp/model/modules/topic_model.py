"""Neural topic model (NTM) over a post's bag of words, shared by TMN and TAKG (TOPIC).

A variational autoencoder in the form of TAKG's and TMN's NTM (Miao et al.'s GSM with
shortcut layers), over K bag-of-words (BoW) words and T topics:

    x          BoW counts of the post's tokens, (B, K); x^ = x / ||x||_2
    h          = ReLU(W_2 ReLU(W_1 x^)) + W_s x^                       encoder with a shortcut
    mu, log s2 = W_mu h, W_s2 h                                        (B, T)
    z          = mu + s (.) eps, eps ~ N(0, I)       (z = mu in eval mode: deterministic)
    theta      = softmax(z + tanh(f_4(tanh(f_3(tanh(f_2(tanh(f_1 z))))))))   topic mixture
    p(w)       = softmax(W_phi theta + b)                              (B, K)
    L_ntm      = -sum_w x_w log p(w) + KL(N(mu, s2) || N(0, I))        per row, averaged

Column t of W_phi is topic t's word weights; `topic_words` gives each topic's distribution
over the BoW words (what TMN's topic memory reads). The BoW is computed inside the model from
the batch's source ids (`bag_of_words`), over a fixed BoW vocabulary chosen from the word
vocabulary when the model is built (`bow_word_ids`: its most frequent content words) and
saved with the model's state, so no data change is needed.

Differences from the public code: the reconstruction term is the multinomial log-likelihood
of the counts (TMN's code uses presence; TAKG's a binary cross-entropy of the counts), and the
adaptive L1 sparsity prior on W_phi is left out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from mmkp.data.vocab import SPECIALS, Vocab

# English function words and Twitter filler: words that carry no topic.
_STOPWORD_TEXT = """
a about above after again against all also am an and any are as at be because been before
being below between both but by can could did do does doing done down during each else
even ever every few for from further get gets got had has have having he her here hers
herself him himself his how i if in into is it its itself just let like made make many me
might more most much must my myself no nor not now of off on once one only or other our
ours ourselves out over own really same say says see she should since so some still such
than that the their theirs them themselves then there these they this those though through
to too under until up upon us very via was way we well were what when where whether which
while who whom whose why will with within without would yet you your yours yourself
yourselves im ive id youre youve dont doesnt didnt cant wont isnt arent wasnt thats
theres whats lets rt amp gonna wanna gotta yeah yes oh ok okay lol u ur ya
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())
_HAS_LETTER = re.compile(r"[a-z]", re.IGNORECASE)


def is_bow_word(word: str) -> bool:
    """A topic word: has a letter, more than one character, not a placeholder such as
    `<url>` and not a stop word (TAKG's filter, with a fixed stop word list)."""
    return (
        len(word) > 1
        and not word.startswith("<")
        and _HAS_LETTER.search(word) is not None
        and word.lower() not in STOPWORDS
    )


def bow_word_ids(vocab: Vocab, size: int) -> list[int]:
    """The vocabulary ids of the BoW words: the `size` most frequent topic words (the
    vocabulary is ordered by falling frequency), fewer when the vocabulary has fewer."""
    words = vocab.words
    ids = [i for i in range(len(SPECIALS), len(words)) if is_bow_word(words[i])][:size]
    if not ids:
        raise ValueError(
            f"the vocabulary's {len(words) - len(SPECIALS)} words hold no topic word (letters, "
            "two or more characters, not a stop word) for the topic model's bag of words"
        )
    return ids


@dataclass
class TopicMixture:
    counts: torch.Tensor  # (B, K) x, the BoW counts
    theta: torch.Tensor  # (B, T) topic mixture, each row sums to one
    mu: torch.Tensor  # (B, T) posterior mean
    logvar: torch.Tensor  # (B, T) posterior log variance
    log_probs: torch.Tensor  # (B, K) log p(w), the reconstruction


class TopicModel(nn.Module):
    def __init__(
        self, vocab_size: int, bow_ids: Sequence[int], num_topics: int, hidden_size: int
    ) -> None:
        super().__init__()
        bow_size = len(bow_ids)
        if bow_size == 0 or min(bow_ids) < 0 or max(bow_ids) >= vocab_size:
            raise ValueError(f"bow_ids must be 1 or more ids below {vocab_size}")
        # Vocab id -> BoW column; words outside the BoW go to an extra column, dropped later.
        index = torch.full((vocab_size,), bow_size, dtype=torch.long)
        index[torch.tensor(list(bow_ids))] = torch.arange(bow_size)
        self.register_buffer("bow_index", index)  # saved: the checkpoint keeps its BoW words
        self.bow_size = bow_size
        self.encoder = nn.Sequential(
            nn.Linear(bow_size, hidden_size),
            nn.ReLU(),
            nn.Linear(hidden_size, hidden_size),
            nn.ReLU(),
        )
        self.shortcut = nn.Linear(bow_size, hidden_size, bias=False)
        self.mean = nn.Linear(hidden_size, num_topics)
        self.logvar = nn.Linear(hidden_size, num_topics)
        self.generator = nn.ModuleList(nn.Linear(num_topics, num_topics) for _ in range(4))
        self.words = nn.Linear(num_topics, bow_size)  # W_phi: (K, T)

    def bag_of_words(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """ids (B, L) vocab ids, mask (B, L) bool -> counts (B, K) of the BoW words."""
        columns = self.bow_index[ids].masked_fill(~mask, self.bow_size)  # (B, L)
        counts = torch.zeros(ids.size(0), self.bow_size + 1, device=ids.device)
        counts.scatter_add_(1, columns, torch.ones_like(columns, dtype=counts.dtype))
        return counts[:, : self.bow_size]

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> TopicMixture:
        """ids (B, L), mask (B, L) -> the posts' topic mixtures and reconstructions."""
        counts = self.bag_of_words(ids, mask)
        normalised = F.normalize(counts, dim=-1)  # x^; an empty BoW stays zero
        hidden = self.encoder(normalised) + self.shortcut(normalised)
        mu, logvar = self.mean(hidden), self.logvar(hidden)  # (B, T)
        z = mu
        if self.training:  # reparameterisation
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        g = z
        for layer in self.generator:
            g = torch.tanh(layer(g))
        theta = torch.softmax(z + g, dim=-1)  # (B, T)
        log_probs = torch.log_softmax(self.words(theta), dim=-1)  # (B, K)
        return TopicMixture(counts=counts, theta=theta, mu=mu, logvar=logvar, log_probs=log_probs)

    def topic_words(self) -> torch.Tensor:
        """(T, K): each topic's distribution over the BoW words, softmax of its W_phi column."""
        return torch.softmax(self.words.weight.t(), dim=-1)


def topic_model_loss(mixture: TopicMixture) -> torch.Tensor:
    """L_ntm: the negative ELBO per row, -sum_w x_w log p(w) + KL, averaged over the rows."""
    reconstruction = -(mixture.counts * mixture.log_probs).sum(dim=-1)  # (B,)
    kl = -0.5 * (1 + mixture.logvar - mixture.mu.pow(2) - mixture.logvar.exp()).sum(dim=-1)
    return (reconstruction + kl).mean()

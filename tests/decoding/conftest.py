"""Table-driven step models (hand-built next-token distributions for each decoded prefix).

Token ids follow the vocabulary's specials: <pad> 0, <unk> 1, <bos> 2, <eos> 3, <seg> 4;
the words A..D are 5..8, so V = 9.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from mmkp.data.vocab import BOS_ID, EOS_ID

A, B, C, D = 5, 6, 7, 8
VOCAB = 9
SRC_LEN = 16  # attention width; each step attends to position = previous token id

Table = dict[tuple[int, ...], dict[int, float]]  # prefix (after <bos>) -> {token: probability}


@dataclass
class TableState:
    """Per row: which example it decodes and the tokens fed so far (starting with <bos>)."""

    example: torch.Tensor  # (N,)
    fed: torch.Tensor  # (N, t)

    def reorder(self, index: torch.Tensor) -> TableState:
        return TableState(self.example[index], self.fed[index])


class TableModel:
    """`step` looks up each row's prefix in its example's table; a prefix missing from the
    table (e.g. after <eos> on a finished row) gets probability 0 for every token."""

    def __init__(self, tables: list[Table], vocab: int = VOCAB):
        self.tables = tables
        self.vocab = vocab
        self.rows_per_step: list[int] = []

    def initial_state(self, examples: list[int] | None = None) -> TableState:
        ids = torch.tensor(examples if examples is not None else range(len(self.tables)))
        return TableState(ids, torch.zeros(len(ids), 0, dtype=torch.long))

    def step(
        self, tokens: torch.Tensor, state: TableState
    ) -> tuple[torch.Tensor, torch.Tensor, TableState]:
        fed = torch.cat([state.fed, tokens[:, None]], dim=1)
        assert (fed[:, 0] == BOS_ID).all(), "every row must start with <bos>"
        self.rows_per_step.append(len(tokens))
        log_probs = torch.full((len(tokens), self.vocab), -math.inf)
        for row, (example, prefix) in enumerate(
            zip(state.example.tolist(), fed.tolist(), strict=True)
        ):
            for token, prob in self.tables[example].get(tuple(prefix[1:]), {}).items():
                log_probs[row, token] = math.log(prob)
        attention = torch.zeros(len(tokens), SRC_LEN)
        attention[torch.arange(len(tokens)), tokens] = 1.0
        return log_probs, attention, TableState(state.example, fed)


class RandomModel:
    """A fixed random distribution per (example, prefix): a deterministic stand-in for a
    trained decoder, to compare strategies and batch compositions on many steps."""

    def __init__(self, vocab: int = 12, seed: int = 0, eos_bias: float = 1.0):
        self.vocab, self.seed, self.eos_bias = vocab, seed, eos_bias

    def step(
        self, tokens: torch.Tensor, state: TableState
    ) -> tuple[torch.Tensor, torch.Tensor, TableState]:
        fed = torch.cat([state.fed, tokens[:, None]], dim=1)
        rows = []
        for example, prefix in zip(state.example.tolist(), fed.tolist(), strict=True):
            key = hash((self.seed, example, *prefix)) % (2**31)
            logits = torch.randn(self.vocab, generator=torch.Generator().manual_seed(key)) * 2
            logits[EOS_ID] += self.eos_bias * len(prefix)  # phrases tend to end
            rows.append(torch.log_softmax(logits, dim=0))
        attention = torch.zeros(len(tokens), SRC_LEN)
        attention[torch.arange(len(tokens)), tokens % SRC_LEN] = 1.0
        return torch.stack(rows), attention, TableState(state.example, fed)


def avg(*probs: float) -> float:
    """The average log-probability of a hypothesis with these token probabilities."""
    return sum(math.log(p) for p in probs) / len(probs)

"""Length normalisation of hypothesis scores.

A hypothesis' raw score is its summed log-probability, which always falls with length, so
ranking by it favours one-word keyphrases. Keyphrase generation work (CopyRNN, TAKG, CMKP,
MM-MKP's public code) ranks beam outputs by the average log-probability per token instead;
that is the default here. The length counts every generated token including the closing
`<eos>` (whose probability is part of the hypothesis' probability), not `<bos>`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only named here: DecodeConfig checks names against PENALTIES without torch
    import torch

LengthPenalty = Callable[["torch.Tensor", "torch.Tensor"], "torch.Tensor"]


def average_log_prob(log_prob: torch.Tensor, length: torch.Tensor) -> torch.Tensor:
    """log P(y) / |y|: the mean log-probability per generated token (the default)."""
    return log_prob / length


def no_penalty(log_prob: torch.Tensor, length: torch.Tensor) -> torch.Tensor:
    """log P(y) unchanged: plain sequence probability (shorter keyphrases win ties)."""
    return log_prob


PENALTIES: dict[str, LengthPenalty] = {"average": average_log_prob, "none": no_penalty}


def get_penalty(name: str) -> LengthPenalty:
    try:
        return PENALTIES[name]
    except KeyError:
        raise ValueError(
            f"unknown length penalty {name!r}; known: {', '.join(sorted(PENALTIES))}"
        ) from None

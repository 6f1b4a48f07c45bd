"""What every search strategy shares: hypotheses, token masking, and collecting results.

A strategy sees a `StepModel` only through `step` (log-probabilities (N, V_ext), possibly held
on their support as `SupportScores`, and source attention (N, L)) and its state only
through `reorder`, so it can be driven by hand-built probability tables in tests.

One2one keyphrase generation: every hypothesis is one keyphrase, and the ranked finished
hypotheses of a post are its keyphrase list. Rules shared by all strategies:

- `<eos>` is blocked at the first step, so no empty keyphrase is ever produced and no beam
  slot is spent on one (OpenNMT's `min_length=1`).
- `blocked_ids` (e.g. `<pad>`, `<bos>`, `<seg>`) are never generated.
- A hypothesis still open after `max_len` tokens is "unfinished". Unfinished hypotheses are
  returned only for an example that has no finished one at all (so every post gets a
  prediction); otherwise they are dropped, because a phrase cut off mid-way is almost never a
  correct keyphrase.
- Results are ranked by the length-normalised score (see `penalties`), best first.
- With `block_repeats` (off by default), a hypothesis never gets an id it already holds in
  its current keyphrase (after the last `separator`, for models that join keyphrases), so no
  keyphrase repeats a word. Ids are extended ids: a copied out-of-vocabulary word has its
  own id per example, so it is blocked like a vocabulary word. `repeatable_ids` are exempt:
  `<unk>`, which stands for whichever source word the decoder attends to at that step.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from mmkp.decoding.penalties import LengthPenalty, get_penalty
from mmkp.decoding.protocol import DecoderState, StepModel

NEG_INF = float("-inf")


@dataclass(frozen=True)
class Hypothesis:
    """One decoded keyphrase (ids only; `mmkp.decoding.generate` turns it into words)."""

    tokens: tuple[int, ...]  # extended ids, without <bos> and <eos>
    score: float  # length-normalised log-probability, the ranking key
    log_prob: float  # summed log-probability of the tokens (and <eos> when finished)
    finished: bool  # True when the hypothesis ended with <eos>
    attention: torch.Tensor  # (len(tokens), L) source attention of the step producing each token


class DecodeStrategy(ABC):
    """Searches B examples at once; `search` returns each example's ranked hypotheses."""

    def __init__(
        self,
        *,
        max_len: int,
        bos_id: int,
        eos_id: int,
        blocked_ids: Sequence[int] = (),
        penalty: str = "average",
        block_repeats: bool = False,
        repeatable_ids: Sequence[int] = (),
        separator: int | None = None,
    ):
        if max_len < 1:
            raise ValueError(f"max_len must be >= 1, got {max_len}")
        self.max_len = max_len
        self.bos_id, self.eos_id = bos_id, eos_id
        self.blocked_ids = torch.tensor(sorted(set(blocked_ids)), dtype=torch.long)
        self.penalty: LengthPenalty = get_penalty(penalty)
        self.block_repeats = block_repeats
        self.repeatable_ids = torch.tensor(sorted(set(repeatable_ids)), dtype=torch.long)
        self.separator = separator

    @abstractmethod
    def search(
        self,
        model: StepModel,
        state: DecoderState,
        batch_size: int,
        device: torch.device | str = "cpu",
    ) -> list[list[Hypothesis]]:
        """`state` holds one row per example (N = batch_size) on `device`; returns each
        example's ranked hypotheses."""

    def mask(self, log_probs: torch.Tensor, step: int) -> torch.Tensor:
        """log_probs (N, V) with blocked ids, and <eos> at the first step, set to -inf, in
        place (a tensor the strategy owns: a step's output, or scores summed onto it)."""
        blocked = self.blocked(step)
        if blocked.numel() == 0:
            return log_probs
        return log_probs.index_fill_(1, blocked.to(log_probs.device), NEG_INF)

    def blocked(self, step: int) -> torch.Tensor:
        """The ids no row may take at `step`: `blocked_ids`, and <eos> at the first step."""
        if step == 0:
            return torch.cat([self.blocked_ids, torch.tensor([self.eos_id])])
        return self.blocked_ids

    def mask_repeats(self, log_probs: torch.Tensor, history: torch.Tensor) -> torch.Tensor:
        """log_probs (N, V) with, per row, the ids of its current keyphrase in history (N, t)
        set to -inf, in place; unchanged unless `block_repeats`."""
        current = self.repeats(history)
        if current is None:
            return log_probs
        # ids not to block go to a spare column V, so one scatter marks the rest
        vocab = log_probs.size(1)
        ids = history.masked_fill(~current, vocab)
        seen = torch.zeros(ids.size(0), vocab + 1, dtype=torch.bool, device=ids.device)
        return log_probs.masked_fill_(seen.scatter_(1, ids, True)[:, :vocab], NEG_INF)

    def repeats(self, history: torch.Tensor) -> torch.Tensor | None:
        """(N, t) True at the history (N, t) entries a row may not take again (its current
        keyphrase's ids, not `repeatable_ids`); None unless `block_repeats` and t > 0."""
        if not self.block_repeats or history.size(1) == 0:
            return None
        current = ~torch.isin(history, self.repeatable_ids.to(history.device))
        if self.separator is not None:  # only the tokens after the row's last separator
            is_separator = (history == self.separator).long()
            current &= is_separator.flip(1).cumsum(1).flip(1) == 0
        return current

    def start_tokens(self, rows: int, device: torch.device | str) -> torch.Tensor:
        return torch.full((rows,), self.bos_id, dtype=torch.long, device=device)


def extend(
    history: torch.Tensor, new: torch.Tensor, rows: torch.Tensor | None = None
) -> torch.Tensor:
    """history (N, t, ...) with its rows selected by `rows` (all if None) and new (N, ...)
    appended as step t; an empty history (t = 0) may have any trailing shape."""
    new = new.unsqueeze(1)
    if history.size(1) == 0:
        return new
    return torch.cat([history if rows is None else history[rows], new], dim=1)


class Collector:
    """Gathers finished / unfinished hypotheses as tensors during the search (no per-example
    Python work inside the step loop) and ranks them per example at the end."""

    def __init__(self, batch_size: int, penalty: LengthPenalty):
        self.batch_size = batch_size
        self.penalty = penalty
        self._parts: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, bool]] = []

    def add(
        self,
        examples: torch.Tensor,
        tokens: torch.Tensor,
        attention: torch.Tensor,
        log_probs: torch.Tensor,
        *,
        finished: bool,
    ) -> None:
        """examples (n,) example index of each hypothesis, tokens (n, t) without <eos>,
        attention (n, t, L), log_probs (n,) summed. Hypotheses with -inf scores are ignored."""
        real = torch.isfinite(log_probs)
        if real.any():
            part = (examples[real], tokens[real], attention[real], log_probs[real])
            self._parts.append((*(tensor.detach() for tensor in part), finished))

    def ranked(self) -> list[list[Hypothesis]]:
        """Per example: finished hypotheses best first; the unfinished ones only if there is
        no finished one. Equal scores keep the order in which they were found."""
        finished: list[list[Hypothesis]] = [[] for _ in range(self.batch_size)]
        unfinished: list[list[Hypothesis]] = [[] for _ in range(self.batch_size)]
        for examples, tokens, attention, log_probs, done in self._parts:
            length = torch.full_like(log_probs, tokens.size(1) + int(done))  # <eos> counts
            scores = self.penalty(log_probs, length).tolist()
            target = finished if done else unfinished
            for i, (example, log_prob) in enumerate(
                zip(examples.tolist(), log_probs.tolist(), strict=True)
            ):
                target[example].append(
                    Hypothesis(
                        tokens=tuple(tokens[i].tolist()),
                        score=scores[i],
                        log_prob=log_prob,
                        finished=done,
                        attention=attention[i],
                    )
                )
        return [
            sorted(done or cut, key=lambda h: -h.score)
            for done, cut in zip(finished, unfinished, strict=True)
        ]

"""What a search strategy needs from a model: one decoding step over reorderable state.

The strategy never sees modules or batches, only log-probabilities over the extended
vocabulary (whole, or held on their support: `SupportScores`), so it can be tested with
hand-built probability tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import torch

from mmkp.data.batch import Batch


class DecoderState(Protocol):
    def reorder(self, index: torch.Tensor) -> DecoderState:
        """Select rows (N,) -> new state whose row i is old row index[i] (beam bookkeeping)."""
        ...


class SupportScores(Protocol):
    """log P (N, V_ext) held on its support (the copy generator's `SupportLogProbs`, whose
    docstring states the layout and invariants): `values` (N, S) at `ids` (R, S), each
    support row read by N // R consecutive rows, `floor` at every other id."""

    @property
    def values(self) -> torch.Tensor: ...  # (N, S) log P at `ids`, each >= `floor`

    @property
    def ids(self) -> torch.Tensor: ...  # (R, S) ascending; pads (the id V_ext) last

    def grouped(self, values: torch.Tensor) -> torch.Tensor:
        """values (N, S, ...) -> (R, N // R, S, ...)."""
        ...

    def columns(self, ids: torch.Tensor) -> torch.Tensor:
        """ids (M, n), M = N or R -> (M, n) their columns in the support, -1 where absent."""
        ...

    def tokens(self, rows: torch.Tensor, columns: torch.Tensor) -> torch.Tensor:
        """rows (n,) and columns (n,) of `values` -> (n,) the extended ids there."""
        ...

    def dense(self) -> torch.Tensor:
        """(N, V_ext) log P over the whole extended vocabulary."""
        ...


def full_width(log_probs: torch.Tensor | SupportScores) -> torch.Tensor:
    """A step's log P as an (N, V_ext) tensor, whichever form the step gave."""
    return log_probs if isinstance(log_probs, torch.Tensor) else log_probs.dense()


class StepModel(Protocol):
    def step(
        self, tokens: torch.Tensor, state: DecoderState
    ) -> tuple[torch.Tensor | SupportScores, torch.Tensor, DecoderState]:
        """tokens (N,) extended ids of the previous step -> (log_probs (N, V_ext), or held
        on their support (`SupportScores`), source attention (N, L), next state). The
        model maps extended OOV ids back to <unk> for its embedding lookup."""
        ...


class KeyphraseGenerator(StepModel, Protocol):
    """A model `generate_keyphrases` can drive: encode a batch once, then step (MMKP is one)."""

    def encode(self, batch: Batch) -> Any:
        """Encoder results for the batch, passed on to `init_decoder_state`."""
        ...

    def init_decoder_state(self, batch: Batch, encoded: Any) -> DecoderState:
        """One state row per batch row, before the first (<bos>) step."""
        ...


class ScoredSequence(Protocol):
    """One keyphrase as ids (a search strategy's `Hypothesis`, or what a model's own
    `search_keyphrases` returns): ids become words in `mmkp.decoding.generate`."""

    @property
    def tokens(self) -> Sequence[int]:
        """Extended ids of the keyphrase's words, without <bos>, <eos> or separators."""
        ...

    @property
    def score(self) -> float:
        """The ranking key (a length-normalised log-probability)."""
        ...

    @property
    def attention(self) -> torch.Tensor:
        """(len(tokens), L) source attention of the step producing each token."""
        ...

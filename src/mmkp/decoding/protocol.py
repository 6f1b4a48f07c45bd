"""What a search strategy needs from a model: one decoding step over reorderable state.

The strategy never sees modules or batches, only log-probabilities over the extended
vocabulary (whole, or on their support: `mmkp.model.modules.support`), so it can be tested
with hand-built probability tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import torch

from mmkp.data.batch import Batch
from mmkp.model.modules.support import SupportLogProbs


class DecoderState(Protocol):
    def reorder(self, index: torch.Tensor) -> DecoderState:
        """Select rows (N,) -> new state whose row i is old row index[i] (beam bookkeeping)."""
        ...


class StepModel(Protocol):
    def step(
        self, tokens: torch.Tensor, state: DecoderState
    ) -> tuple[torch.Tensor | SupportLogProbs, torch.Tensor, DecoderState]:
        """tokens (N,) extended ids of the previous step -> (log_probs (N, V_ext), or held
        on their support (`SupportLogProbs`), source attention (N, L), next state). The
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

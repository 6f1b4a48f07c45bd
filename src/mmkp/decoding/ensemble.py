"""Beyond the paper: an ensemble of models decoded as one, inside one search.

Issue 24's "ensembling seeds inside one beam search (average step log-probabilities)": the
members (models trained on the same data and vocabulary, e.g. with different seeds) each
encode the batch and keep their own decoder state; at every step each member scores the
same hypotheses and the ensemble's log-probabilities over the extended vocabulary are the
mean of the members',

    log p_ens(y_j | y_<j) = (1 / M) sum_m log p_m(y_j | y_<j),

a product of experts up to its normaliser (the search ranks by summed step scores, which
needs none). The members' copy sources (X_T, the classifier's labels, the neighbours'
keyphrases) stay inside each member's step, so a member's copying is its own. The source
attention returned for `<unk>` replacement is the mean of the members' attentions (each a
distribution over the same X_T), so the replaced word is the one the ensemble attends to.

A classifier head is ensembled the same way: `label_logits` is the mean of the members'
log-softmax over the label set. The image diagnostics (s_c, A) are the members' mean.

With one member every output is that member's own tensor, so an ensemble of one decodes
exactly as the model alone; with the same model twice the means are exact too (x + x is
2x, halved exactly in floating point).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from mmkp.data.batch import Batch
from mmkp.decoding.protocol import SupportScores, full_width


def mean(tensors: Sequence[torch.Tensor]) -> torch.Tensor:
    """The element-wise mean; one tensor is returned itself (bit-identical)."""
    if len(tensors) == 1:
        return tensors[0]
    return torch.stack(list(tensors)).mean(dim=0)


@dataclass(frozen=True)
class EnsembleEncoded:
    """The members' encoder results, in member order, and the fields callers read of them."""

    members: tuple[Any, ...]

    def _mean_of(self, name: str) -> torch.Tensor | None:
        values = [getattr(encoded, name, None) for encoded in self.members]
        present = [value for value in values if value is not None]
        return mean(present) if present else None

    @property
    def label_logits(self) -> torch.Tensor | None:
        """(B, num_labels) the mean of the members' log-softmax (a member's own logits when
        it is alone), or None when a member has no classifier."""
        logits = [encoded.label_logits for encoded in self.members]
        if any(value is None for value in logits):
            return None
        if len(logits) == 1:
            return logits[0]
        return mean([torch.log_softmax(value.float(), dim=-1) for value in logits])

    @property
    def match_score(self) -> torch.Tensor | None:
        """(B,) the mean s_c of the members that match image and text."""
        return self._mean_of("match_score")

    @property
    def region_scores(self) -> torch.Tensor | None:
        """(B, R) the mean A of the members that score regions."""
        return self._mean_of("region_scores")


@dataclass(frozen=True)
class EnsembleState:
    """The members' decoder states, reordered together (a `DecoderState`)."""

    members: tuple[Any, ...]
    rows: int  # rows of each member state (for `expand` of a state that cannot expand)
    device: torch.device

    def reorder(self, index: torch.Tensor) -> EnsembleState:
        moved = tuple(state.reorder(index) for state in self.members)
        return EnsembleState(moved, index.numel(), self.device)

    def expand(self, beam: int) -> EnsembleState:
        """`beam` rows per row: each member's own `expand` where it has one (a model that
        keeps its source once per post), else a reorder repeating every row."""
        repeat = torch.arange(self.rows, device=self.device).repeat_interleave(beam)
        expanded = tuple(
            state.expand(beam) if hasattr(state, "expand") else state.reorder(repeat)
            for state in self.members
        )
        return EnsembleState(expanded, self.rows * beam, self.device)


class Ensemble:
    """M models with the same vocabulary decoded as one `KeyphraseGenerator` (module
    docstring). Members must step one keyphrase (or one `keyphrase_separator`-joined
    sequence) at a time: a model with its own search (One2Set's slots) has no step to
    average and is refused, as are members that disagree on the separator or on heads."""

    def __init__(self, members: Sequence[Any]):
        if not members:
            raise ValueError("an ensemble needs at least one model")
        own_search = [type(m).__name__ for m in members if hasattr(m, "search_keyphrases")]
        if own_search:
            raise ValueError(
                f"{own_search[0]} searches its keyphrases itself (no step to average): it "
                "cannot be part of an ensemble"
            )
        separators = {getattr(m, "keyphrase_separator", None) for m in members}
        if len(separators) > 1:
            raise ValueError("the ensemble's members join keyphrases differently (separator)")
        # a bare StepModel (no heads named) is a generator
        heads = {
            (getattr(m, "has_generator", True), getattr(m, "has_classifier", False))
            for m in members
        }
        if len(heads) > 1:
            raise ValueError("the ensemble's members have different heads (generator/classifier)")
        self.members = tuple(members)
        (separator,) = separators
        if separator is not None:  # read with getattr by mmkp.decoding.generate
            self.keyphrase_separator = separator
        (self.has_generator, self.has_classifier) = heads.pop()

    @property
    def inputs(self) -> frozenset[str]:
        """What any member reads of a batch (a text-only member ignores the grid)."""
        return frozenset().union(*(m.inputs for m in self.members))

    def encode(self, batch: Batch) -> EnsembleEncoded:
        return EnsembleEncoded(tuple(m.encode(batch) for m in self.members))

    def init_decoder_state(self, batch: Batch, encoded: EnsembleEncoded) -> EnsembleState:
        states = tuple(
            m.init_decoder_state(batch, e)
            for m, e in zip(self.members, encoded.members, strict=True)
        )
        return EnsembleState(states, batch.size, batch.src_ids.device)

    def step(
        self, tokens: torch.Tensor, state: EnsembleState
    ) -> tuple[torch.Tensor | SupportScores, torch.Tensor, EnsembleState]:
        """tokens (N,) -> (mean log-probs (N, V_ext), mean attention (N, L), next state)."""
        outputs = [m.step(tokens, s) for m, s in zip(self.members, state.members, strict=True)]
        sizes = {log_probs.shape for log_probs, _, _ in outputs}
        if len(sizes) > 1:
            raise ValueError(
                f"the ensemble's members score different vocabularies: {sorted(sizes)}"
            )
        # one member's own output (bit-identical, its support kept), else the dense means
        log_probs = (
            outputs[0][0] if len(outputs) == 1 else mean([full_width(o[0]) for o in outputs])
        )
        attention = mean([out[1] for out in outputs])  # (N, L)
        next_state = EnsembleState(tuple(out[2] for out in outputs), state.rows, state.device)
        return log_probs, attention, next_state

    def eval(self) -> Ensemble:
        for m in self.members:
            m.eval()
        return self

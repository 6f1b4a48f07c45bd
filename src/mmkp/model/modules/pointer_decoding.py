"""The decoding steps of a pointer-generator (eq. 9-14) shared by the family's generators.

A model mixes this in when it has `text_encoder.embedding` (the word table the decoder
shares), `input_dropout`, a `Decoder` (`decoder`), a `CopyGenerator` (`generator`) and
`vocab_size`, and provides `init_decoder_state(batch, encoded)`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch

from mmkp.data.batch import Batch
from mmkp.data.vocab import UNK_ID
from mmkp.model.modules.copy_generator import LOG_EPS, LabelCopy
from mmkp.model.modules.decoder import DecoderState
from mmkp.model.modules.support import Support, SupportLogProbs


class PointerDecoding:
    text_encoder: Any
    input_dropout: torch.nn.Module
    decoder: Any
    generator: Any
    vocab_size: int

    def init_decoder_state(self, batch: Batch, encoded: Any) -> DecoderState:
        raise NotImplementedError

    def source_state(
        self, batch: Batch, encoded: Any, labels: LabelCopy | None = None
    ) -> DecoderState:
        """s_0 = the encoder's final state, the source memory, H_f when the model fuses one,
        and the copy sources: X_T and (`labels`) the classifier's top-k label words; without
        autograd (inference) also where each source's P can be non-zero, for `step`."""
        ext_size = self.vocab_size + batch.max_oov
        support = None
        if not torch.is_grad_enabled():
            support = self.generator.support(batch.src_ext_ids, labels, ext_size)
        return DecoderState(
            hidden=encoded.final,
            memory=encoded.memory,
            keys=self.decoder.project_memory(encoded.memory),
            src_mask=batch.src_mask,
            src_ext_ids=batch.src_ext_ids,
            fused=encoded.fused,
            copy_ids=None if labels is None else labels.ids,
            copy_weights=None if labels is None else labels.weights,
            ext_size=ext_size,
            support_ids=None if support is None else support.ids,
            support_slots=None if support is None else support.slots,
        )

    def step(
        self, tokens: torch.Tensor, state: DecoderState
    ) -> tuple[torch.Tensor | SupportLogProbs, torch.Tensor, DecoderState]:
        """tokens (N,) extended ids -> log P (N, V_ext) (held on the sources' support when the
        state has one), alpha (N, L), next state. A tied state (all beams of a source alike,
        `DecoderState.expand`) decodes each source once."""
        support = None
        if state.support_ids is not None and state.support_slots is not None:
            support = Support(ids=state.support_ids, slots=state.support_slots)
        if state.tied:
            one = replace(state, beam=1, tied=False)
            log_probs, attention, hidden = self._decode(
                tokens[:: state.beam, None], one, support=support
            )
            beams = state.beam
            log_probs = log_probs[:, 0].repeat_interleave(beams, 0)
            attention = attention[:, 0].repeat_interleave(beams, 0)
        else:
            log_probs, attention, hidden = self._decode(tokens.unsqueeze(1), state, support=support)
            log_probs, attention = log_probs[:, 0], attention[:, 0]
        next_state = replace(state, hidden=hidden)
        if support is None:
            return log_probs, attention, next_state
        return (
            SupportLogProbs(log_probs, support.ids, state.ext_size, LOG_EPS),
            attention,
            next_state,
        )

    def teacher_forced(
        self, batch: Batch, encoded: Any, *, at_targets: bool = False
    ) -> torch.Tensor:
        """log P(y_j | y_<j) for every target position: (B, T, V_ext); `at_targets`: only at
        the targets `batch.trg_out`, (B, T, 1), what the loss reads (`target_loss`)."""
        state = self.init_decoder_state(batch, encoded)
        targets = batch.trg_out if at_targets else None
        log_probs, _, _ = self._decode(batch.trg_in, state, targets)
        return log_probs

    def _decode(
        self,
        tokens: torch.Tensor,
        state: DecoderState,
        targets: torch.Tensor | None = None,
        support: Support | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """tokens (N, T) -> log P (N, T, V_ext) (at `targets` (N, T) only: (N, T, 1); at the
        `support`'s ids only: (N, T, S)), alpha (N, T, L), last hidden (N, d)."""
        rows, steps = tokens.shape
        in_vocab = tokens.masked_fill(tokens >= self.vocab_size, UNK_ID)  # copied OOV -> <unk>
        inputs = self.input_dropout(self.text_encoder.embedding(in_vocab))  # (N, T, e)
        out = self.decoder(inputs, state)

        def per_source(x: torch.Tensor) -> torch.Tensor:  # (N, T, ...) -> (P, beam * T, ...)
            return x.reshape(-1, state.beam * steps, *x.shape[2:])

        context = per_source(out.context)
        if state.fused is not None:
            context = context + state.fused.unsqueeze(1)
        features = torch.cat([per_source(inputs), per_source(out.states), context], -1)
        labels = None
        if state.copy_ids is not None and state.copy_weights is not None:
            labels = LabelCopy(ids=state.copy_ids, weights=state.copy_weights)
        log_probs = self.generator(
            features,
            per_source(out.attention),
            state.src_ext_ids,
            state.ext_size,
            labels,
            targets,
            support,
        )
        return log_probs.view(rows, steps, -1), out.attention, out.hidden

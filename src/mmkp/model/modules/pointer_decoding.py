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
from mmkp.model.modules.copy_generator import LabelCopy
from mmkp.model.modules.decoder import DecoderState


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
        and the copy sources: X_T and (`labels`) the classifier's top-k label words."""
        return DecoderState(
            hidden=encoded.final,
            memory=encoded.memory,
            keys=self.decoder.project_memory(encoded.memory),
            src_mask=batch.src_mask,
            src_ext_ids=batch.src_ext_ids,
            fused=encoded.fused,
            copy_ids=None if labels is None else labels.ids,
            copy_weights=None if labels is None else labels.weights,
            ext_size=self.vocab_size + batch.max_oov,
        )

    def step(
        self, tokens: torch.Tensor, state: DecoderState
    ) -> tuple[torch.Tensor, torch.Tensor, DecoderState]:
        """tokens (N,) extended ids -> log P (N, V_ext), alpha (N, L), next state."""
        log_probs, attention, hidden = self._decode(tokens.unsqueeze(1), state)
        return log_probs[:, 0], attention[:, 0], replace(state, hidden=hidden)

    def teacher_forced(self, batch: Batch, encoded: Any) -> torch.Tensor:
        """log P(y_j | y_<j) for every target position: (B, T, V_ext)."""
        state = self.init_decoder_state(batch, encoded)
        log_probs, _, _ = self._decode(batch.trg_in, state)
        return log_probs

    def _decode(
        self, tokens: torch.Tensor, state: DecoderState
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """tokens (B, T) -> log P (B, T, V_ext), alpha (B, T, L), last hidden (B, d)."""
        in_vocab = tokens.masked_fill(tokens >= self.vocab_size, UNK_ID)  # copied OOV -> <unk>
        inputs = self.input_dropout(self.text_encoder.embedding(in_vocab))  # (B, T, e)
        out = self.decoder(inputs, state)
        context = out.context if state.fused is None else out.context + state.fused.unsqueeze(1)
        features = torch.cat([inputs, out.states, context], -1)
        labels = None
        if state.copy_ids is not None and state.copy_weights is not None:
            labels = LabelCopy(ids=state.copy_ids, weights=state.copy_weights)
        log_probs = self.generator(
            features, out.attention, state.src_ext_ids, state.ext_size, labels
        )
        return log_probs, out.attention, out.hidden

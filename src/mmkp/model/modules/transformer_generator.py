"""What the Transformer members (One2Seq, One2Set) share around `modules.transformer`: the
protocol's flags, the text encoder and copy decoder over one word table, `encode` and `step`.

    encode:  X_T --TransformerTextEncoder--> H                              (B, L, d)
    step:    tokens (N,) --TransformerCopyDecoder.step--> log P (N, V_ext), alpha (N, L)

A member adds its own modules after `super().__init__` (so the parameter names and the order
the random initialisation runs in are those of the member alone), initialises the word table
and defines `forward` and `init_decoder_state`.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import ClassVar

import torch
from torch import nn

from mmkp.data.batch import Batch
from mmkp.model.modules.transformer import (
    TransformerCopyDecoder,
    TransformerModelConfig,
    TransformerState,
    TransformerTextEncoder,
)
from mmkp.model.outputs import Encoded
from mmkp.model.protocol import INPUT_TEXT


class TransformerGenerator(nn.Module):
    has_generator: ClassVar[bool] = True
    has_classifier: ClassVar[bool] = False
    inputs: ClassVar[frozenset[str]] = frozenset({INPUT_TEXT})

    def __init__(self, config: TransformerModelConfig, *, vocab_size: int):
        super().__init__()
        self.config = config
        self.vocab_size = vocab_size
        self.encoder = TransformerTextEncoder(vocab_size, config)
        self.decoder = TransformerCopyDecoder(self.encoder.embedding, vocab_size, config)

    def check_terms(self, terms: Collection[str]) -> None:
        """Refuse loss terms other than L_gen, the only one these members have."""
        unknown = set(terms) - set(self.config.loss_terms)
        if unknown:
            raise ValueError(f"unknown loss terms {sorted(unknown)}; known: ['gen']")

    def encode(self, batch: Batch) -> Encoded:
        memory = self.encoder(batch.src_ids, batch.src_types, batch.src_mask)  # (B, L, d)
        return Encoded(memory=memory, src_mask=batch.src_mask)

    def step(
        self, tokens: torch.Tensor, state: TransformerState
    ) -> tuple[torch.Tensor, torch.Tensor, TransformerState]:
        """tokens (N,) -> log P (N, V_ext), alpha (N, L), next state (mmkp.decoding drives it)."""
        return self.decoder.step(tokens, state)

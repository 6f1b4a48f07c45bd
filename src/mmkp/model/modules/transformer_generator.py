"""What the Transformer members ONE2SEQ and ONE2SET share on top of `modules.transformer`
(Ye et al., 2021, kg_one2set): their sizes, the pre-LN stack, one word table, a single-head
copy attention and the copy generator over V_ext.

    encode:  X_T --TransformerTextEncoder--> H                              (B, L, d)
    decode:  s_j = TransformerDecoder(sqrt(d) e(y_<j) [+ c_n], H)            (B, T, d)
             alpha_j, a_j = single-head attention of s_j over H      the copy distribution
             P(y_j) = CopyGenerator([s_j; a_j], alpha_j)     (p_gen mix, modules.copy_generator)

`extra` adds a vector to every decoder input of a row: One2Set's control code c_n of slot n.
A member adds its own modules after `super().__init__` (so the parameter names and the order
the random initialisation runs in are those of the member alone), initialises the word table
and defines `forward` and `init_decoder_state`.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from typing import ClassVar

import torch
from torch import nn

from mmkp.data.batch import Batch
from mmkp.data.vocab import UNK_ID
from mmkp.model.config import ModelConfig, check_dropout, check_heads, check_sizes
from mmkp.model.modules.copy_generator import CopyGenerator
from mmkp.model.modules.decoder import DecoderState
from mmkp.model.modules.transformer import (
    StackOptions,
    TransformerDecoder,
    TransformerTextEncoder,
    attendable,
)
from mmkp.model.outputs import Encoded
from mmkp.model.protocol import INPUT_TEXT


@dataclass(frozen=True)
class TransformerModelConfig(ModelConfig):
    """The sizes a Transformer member shares (kg_one2set: d 512, 6 + 6 layers, 8 heads)."""

    d_model: int = 128
    num_heads: int = 4
    encoder_layers: int = 2
    decoder_layers: int = 2
    ff_size: int = 256
    dropout: float = 0.1

    loss_terms: ClassVar[tuple[str, ...]] = ("gen",)

    def __post_init__(self) -> None:
        super().__post_init__()
        check_sizes(self, "d_model", "num_heads", "encoder_layers", "decoder_layers", "ff_size")
        check_heads(self.d_model, self.num_heads, width_name="d_model")
        check_dropout(self.dropout)


def pre_ln_stack(config: TransformerModelConfig) -> StackOptions:
    """kg_one2set's layout: pre-LN layers with a final LayerNorm, sqrt(d)-scaled words."""
    return StackOptions(
        num_heads=config.num_heads,
        ff_size=config.ff_size,
        dropout=config.dropout,
        norm_first=True,
        input_norm=False,
        scale_words=True,
        words_in_input=True,
        precomputed_positions=True,
        causal_hint=False,
        input_name="inputs",
    )


def require_one_row_per_post(batch: Batch, model: str) -> None:
    """The joined-target members train on one row per post; one2one rows (several per post)
    would teach them one keyphrase per sequence, so they are refused."""
    if batch.post_index.unique().numel() < batch.size:
        raise ValueError(
            f"model {model!r} trains on one row per post with all its keyphrases, but the "
            "batch has several rows of one post: set data.targets: one2seq"
        )


def sequence_loss(nll: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """nll (B, T), mask (B, T) -> the NLL summed over each row's target, averaged over the
    rows that have one (as modules.copy_generator.generation_loss); 0 when none has."""
    rows = mask.any(dim=1)
    if not rows.any():
        return nll.sum() * 0.0
    return (nll * mask).sum(dim=1)[rows].mean()


class TransformerCopyDecoder(TransformerDecoder):
    """The decoder stack, the copy attention and the copy generator over V_ext."""

    def __init__(self, embedding: nn.Embedding, vocab_size: int, config: TransformerModelConfig):
        d = config.d_model
        super().__init__(config.emb_size, d, config.decoder_layers, pre_ln_stack(config), embedding)
        self.vocab_size = vocab_size
        self.copy_attention = nn.MultiheadAttention(d, 1, batch_first=True)
        self.generator = CopyGenerator(
            2 * d, d, vocab_size, config.dropout, classifier_copy=False, hidden=False
        )

    def start(
        self,
        memory: torch.Tensor,
        src_mask: torch.Tensor,
        src_ext_ids: torch.Tensor,
        ext_size: int,
        extra: torch.Tensor | None = None,
    ) -> DecoderState:
        """The state before the first (<bos>) step, an empty prefix (N, 0, e), from per-row
        memory (N, L, d), src_mask, src_ext_ids (N, L) and extra (N, e) or None."""
        return DecoderState(
            hidden=memory.new_zeros(memory.size(0), 0, self.input_layer.project.in_features),
            memory=memory,
            keys=None,
            src_mask=src_mask,
            src_ext_ids=src_ext_ids,
            fused=None,
            copy_ids=None,
            copy_weights=None,
            ext_size=ext_size,
            extra=extra,
        )

    def embed(self, tokens: torch.Tensor, extra: torch.Tensor | None) -> torch.Tensor:
        """tokens (B, T) extended ids -> the decoder inputs sqrt(d) e(y) [+ extra] (B, T, e)."""
        in_vocab = tokens.masked_fill(tokens >= self.vocab_size, UNK_ID)  # copied OOV -> <unk>
        table = self.input_layer.embedding
        assert table is not None
        return self.input_layer.words(in_vocab, table, extra)

    def generate(
        self,
        states: torch.Tensor,
        memory: torch.Tensor,
        src_mask: torch.Tensor,
        src_ext_ids: torch.Tensor,
        ext_size: int,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """states (B, T, d) -> log P (B, T, V_ext) and the copy attention alpha (B, T, L)."""
        context, alpha = self.copy_attention(
            states, memory, memory, key_padding_mask=~attendable(src_mask), need_weights=True
        )  # (B, T, d), (B, T, L)
        features = torch.cat([states, context], dim=-1)
        return self.generator(features, alpha, src_ext_ids, ext_size, None), alpha

    def forward(
        self, inputs: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor, state: DecoderState
    ) -> torch.Tensor:
        """Teacher forcing: inputs, targets (B, T) extended ids, mask (B, T) bool -> the NLL
        (B, T) of each target token, 0 off the mask. The V_ext-wide output is computed at the
        masked positions only (most of One2Set's slot positions are padding after a ∅)."""
        prefix = self.embed(inputs, state.extra)  # (B, T, e)
        states = self.states(prefix, state.memory, state.src_mask)  # (B, T, d)
        rows = mask.nonzero()[:, 0]  # (P,) the row of every real position
        log_probs, _ = self.generate(
            states[mask].unsqueeze(1),  # (P, 1, d)
            state.memory[rows],
            state.src_mask[rows],
            state.src_ext_ids[rows],
            state.ext_size,
        )  # (P, 1, V_ext)
        picked = log_probs[:, 0].gather(1, targets[mask].unsqueeze(1)).squeeze(1)  # (P,)
        return torch.zeros_like(states[..., 0]).masked_scatter(mask, -picked)

    def step(
        self, tokens: torch.Tensor, state: DecoderState
    ) -> tuple[torch.Tensor, torch.Tensor, DecoderState]:
        """tokens (N,) the previous step's ids (<bos> first) -> log P (N, V_ext), alpha (N, L)
        of the next token, and the state with `tokens` appended to its prefix."""
        state = state.per_row()  # the stack reads the source per row
        prefix = torch.cat([state.hidden, self.embed(tokens[:, None], state.extra)], dim=1)
        states = self.states(prefix, state.memory, state.src_mask)[:, -1:]  # (N, 1, d)
        log_probs, alpha = self.generate(
            states, state.memory, state.src_mask, state.src_ext_ids, state.ext_size
        )
        return log_probs[:, -1], alpha[:, -1], replace(state, hidden=prefix)


class TransformerGenerator(nn.Module):
    has_generator: ClassVar[bool] = True
    has_classifier: ClassVar[bool] = False
    inputs: ClassVar[frozenset[str]] = frozenset({INPUT_TEXT})

    def __init__(self, config: TransformerModelConfig, *, vocab_size: int):
        super().__init__()
        self.config = config
        self.vocab_size = vocab_size
        self.encoder = TransformerTextEncoder(
            vocab_size,
            config.emb_size,
            config.d_model,
            config.encoder_layers,
            pre_ln_stack(config),
        )
        self.decoder = TransformerCopyDecoder(self.encoder.embedding, vocab_size, config)

    def check_terms(self, terms: Collection[str]) -> None:
        """Refuse loss terms other than L_gen, the only one these members have."""
        unknown = set(terms) - set(self.config.loss_terms)
        if unknown:
            raise ValueError(f"unknown loss terms {sorted(unknown)}; known: ['gen']")

    def encode(self, batch: Batch) -> Encoded:
        text = self.encoder(batch.src_ids, batch.src_types, batch.src_mask)  # H (B, L, d)
        return Encoded(memory=text.memory, src_mask=batch.src_mask)

    def step(
        self, tokens: torch.Tensor, state: DecoderState
    ) -> tuple[torch.Tensor, torch.Tensor, DecoderState]:
        """tokens (N,) -> log P (N, V_ext), alpha (N, L), next state (mmkp.decoding drives it)."""
        return self.decoder.step(tokens, state)

"""A Transformer encoder-decoder with copy attention, as the One2Seq/One2Set baselines use it
(Ye et al., 2021, kg_one2set; Vaswani et al., 2017), built from torch's Transformer layers.

    encode:  h_i = TransformerEncoder(W_in (sqrt(d) e(x_i) + e(type_i)) + PE(i))    (B, L, d)
    decode:  s_j = TransformerDecoder(W_in sqrt(d) e(y_{j-1}) + PE(j) [+ c_n], H)   (B, T, d)
             alpha_j, a_j = single-head attention of s_j over H      the copy distribution
             P(y_j) = CopyGenerator([s_j; a_j], alpha_j)     (p_gen mix, modules.copy_generator)

Both sides are pre-LayerNorm stacks with a final LayerNorm, as in kg_one2set, and share one
word table (`embedding`). `extra` adds a vector to every input of a sequence: One2Set's
control code c_n of slot n. The decoder has no incremental cache: a step re-runs the prefix
(keyphrase targets are a few dozen tokens), so a step gives exactly what teacher forcing
gives at that position.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import ClassVar

import torch
from torch import nn

from mmkp.data.batch import Batch
from mmkp.data.layout import NUM_TYPES
from mmkp.data.vocab import PAD_ID, UNK_ID
from mmkp.model.config import ModelConfig, check_dropout, check_heads, check_sizes
from mmkp.model.modules.copy_generator import CopyGenerator

MAX_POSITIONS = 1024  # longer than any X_T (max_src_len) or target the package builds


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


def sinusoid_table(positions: int, size: int) -> torch.Tensor:
    """PE (positions, size): sin on even, cos on odd channels (Vaswani et al., 2017)."""
    position = torch.arange(positions, dtype=torch.float).unsqueeze(1)
    rate = torch.exp(torch.arange(0, size, 2, dtype=torch.float) * (-math.log(10000.0) / size))
    table = torch.zeros(positions, size)
    table[:, 0::2] = torch.sin(position * rate)
    table[:, 1::2] = torch.cos(position * rate)[:, : size // 2]
    return table


def attendable(src_mask: torch.Tensor) -> torch.Tensor:
    """src_mask (B, L) with position 0 opened on empty rows, so no softmax runs over nothing."""
    first = torch.zeros_like(src_mask)
    first[:, 0] = True
    return src_mask | (first & ~src_mask.any(dim=1, keepdim=True))


class InputEmbedding(nn.Module):
    """W_in sqrt(d) e(w) + PE: word embeddings (width emb_size) into the model width d."""

    def __init__(self, embedding: nn.Embedding, d_model: int, dropout: float):
        super().__init__()
        self.embedding = embedding
        self.scale = math.sqrt(d_model)
        self.project = nn.Linear(embedding.embedding_dim, d_model)
        self.dropout = nn.Dropout(dropout)
        self.register_buffer("positions", sinusoid_table(MAX_POSITIONS, d_model), persistent=False)

    def forward(self, ids: torch.Tensor, extra: torch.Tensor | None = None) -> torch.Tensor:
        """ids (B, T) vocab ids, extra (B, T, e) or (B, e) (the same at every position) added
        to the word embeddings -> (B, T, d)."""
        words = self.embedding(ids) * self.scale
        if extra is not None:
            words = words + (extra.unsqueeze(1) if extra.dim() == 2 else extra)
        return self.dropout(self.project(words) + self.positions[: ids.size(1)])


class TransformerTextEncoder(nn.Module):
    def __init__(self, vocab_size: int, config: TransformerModelConfig):
        super().__init__()
        c = config
        self.embedding = nn.Embedding(vocab_size, c.emb_size, padding_idx=PAD_ID)
        self.type_embedding = nn.Embedding(NUM_TYPES, c.emb_size)
        self.inputs = InputEmbedding(self.embedding, c.d_model, c.dropout)
        layer = nn.TransformerEncoderLayer(
            c.d_model, c.num_heads, c.ff_size, c.dropout, batch_first=True, norm_first=True
        )
        self.layers = nn.TransformerEncoder(
            layer, c.encoder_layers, norm=nn.LayerNorm(c.d_model), enable_nested_tensor=False
        )

    def forward(self, ids: torch.Tensor, types: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """ids, types (B, L) long, mask (B, L) bool -> H (B, L, d), zero on padding."""
        embedded = self.inputs(ids, self.type_embedding(types))  # (B, L, d)
        memory = self.layers(embedded, src_key_padding_mask=~attendable(mask))
        return memory * mask.unsqueeze(-1)


@dataclass
class TransformerState:
    """What a decoding step needs, per row (reorderable for beam search)."""

    prefix: torch.Tensor  # (N, t) the inputs so far (<bos> first), extended ids
    memory: torch.Tensor  # (N, L, d) encoder states H
    src_mask: torch.Tensor  # (N, L) bool
    src_ext_ids: torch.Tensor  # (N, L) long, extended ids for copying
    extra: torch.Tensor | None  # (N, e) added to every input (One2Set's control code), or None
    ext_size: int  # V_ext = vocabulary size + the batch's number of source OOV words

    @classmethod
    def start(
        cls,
        memory: torch.Tensor,
        src_mask: torch.Tensor,
        src_ext_ids: torch.Tensor,
        ext_size: int,
        extra: torch.Tensor | None = None,
    ) -> TransformerState:
        """The state before the first (<bos>) step."""
        prefix = src_ext_ids.new_zeros(src_ext_ids.size(0), 0)
        return cls(prefix, memory, src_mask, src_ext_ids, extra, ext_size)

    def reorder(self, index: torch.Tensor) -> TransformerState:
        moved = {
            f.name: getattr(self, f.name).index_select(0, index)
            for f in fields(self)
            if isinstance(getattr(self, f.name), torch.Tensor)
        }
        return replace(self, **moved)


class TransformerCopyDecoder(nn.Module):
    """The decoder stack, the copy attention and the copy generator over V_ext."""

    def __init__(self, embedding: nn.Embedding, vocab_size: int, config: TransformerModelConfig):
        super().__init__()
        c, d = config, config.d_model
        self.vocab_size = vocab_size
        self.inputs = InputEmbedding(embedding, d, c.dropout)
        layer = nn.TransformerDecoderLayer(
            d, c.num_heads, c.ff_size, c.dropout, batch_first=True, norm_first=True
        )
        self.layers = nn.TransformerDecoder(layer, c.decoder_layers, norm=nn.LayerNorm(d))
        self.copy_attention = nn.MultiheadAttention(d, 1, batch_first=True)
        self.generator = CopyGenerator(
            2 * d, d, vocab_size, c.dropout, classifier_copy=False, hidden=False
        )

    def states(
        self,
        tokens: torch.Tensor,
        memory: torch.Tensor,
        src_mask: torch.Tensor,
        extra: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """tokens (B, T) extended decoder inputs (<bos> first), memory (B, L, d), src_mask
        (B, L), extra (B, e) or None -> decoder states s_j (B, T, d)."""
        steps = tokens.size(1)
        in_vocab = tokens.masked_fill(tokens >= self.vocab_size, UNK_ID)  # copied OOV -> <unk>
        causal = torch.ones(steps, steps, dtype=torch.bool, device=tokens.device).triu(1)
        return self.layers(
            self.inputs(in_vocab, extra),
            memory,
            tgt_mask=causal,
            memory_key_padding_mask=~attendable(src_mask),
        )

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
        self,
        inputs: torch.Tensor,
        targets: torch.Tensor,
        mask: torch.Tensor,
        state: TransformerState,
    ) -> torch.Tensor:
        """Teacher forcing: inputs, targets (B, T) extended ids, mask (B, T) bool -> the NLL
        (B, T) of each target token, 0 off the mask. The V_ext-wide output is computed at the
        masked positions only (most of One2Set's slot positions are padding after a ∅)."""
        states = self.states(inputs, state.memory, state.src_mask, state.extra)  # (B, T, d)
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
        self, tokens: torch.Tensor, state: TransformerState
    ) -> tuple[torch.Tensor, torch.Tensor, TransformerState]:
        """tokens (N,) the previous step's ids (<bos> first) -> log P (N, V_ext), alpha (N, L)
        of the next token, and the state with `tokens` appended to its prefix."""
        prefix = torch.cat([state.prefix, tokens[:, None]], dim=1)  # (N, t + 1)
        states = self.states(prefix, state.memory, state.src_mask, state.extra)[:, -1:]
        log_probs, alpha = self.generate(
            states, state.memory, state.src_mask, state.src_ext_ids, state.ext_size
        )
        return log_probs[:, -1], alpha[:, -1], replace(state, prefix=prefix)

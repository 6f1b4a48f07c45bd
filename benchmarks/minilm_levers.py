"""MiniLM levers at decode time on a trained retrieval model (issue 24, part 3).

    PYTHONPATH=src OMP_NUM_THREADS=1 .venv/bin/python benchmarks/minilm_levers.py \\
        --model RUN/model --dev DEV.jsonl --work SCRATCH [--threads 1]

Two levers, both switched on at predict time for a model trained with TF-IDF neighbours (so
a decode-time proxy: its decoder learnt to copy from TF-IDF neighbours' keyphrases):
1. neighbours by MiniLM instead of / beside TF-IDF (`mmkp predict --retrieval-encoder`);
2. a MiniLM semantic term in the rerank (`decode.semantic_weight`, over X_S or X_T, at a
   temperature), on a small grid tuned on dev itself: the best row is optimistic.
The model directory is copied to SCRATCH/model (the original is never written) and the
training posts' MiniLM embeddings are cached there once (retrieval-minilm.npy, timed).
Each variant: a fresh predictor, dev F1@1 / F1@3 / MAP@5 and present / absent F1@1 as
`mmkp evaluate` scores them, the seconds of predicting the dev posts cold (the MiniLM load,
and every keyphrase embedded for the first time, counted) and warm (the same predictor
again: a long-running service's steady state), and the 1-minute load average after.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import time
from pathlib import Path

import torch

from mmkp.data.errors import ErrorLog
from mmkp.data.formats import stream_posts
from mmkp.evaluation.metrics import evaluate
from mmkp.evaluation.prediction_files import PredictionWriter, load_aligned
from mmkp.features.sentence_encoder import sentence_embed
from mmkp.inference.checkpoint import load_checkpoint
from mmkp.inference.predictor import Predictor

METRICS = ("F1@1", "F1@3", "MAP@5", "present_F1@1", "absent_F1@1")
# (name, retrieval encoder, decode overrides)
ENCODER_VARIANTS = [
    ("tfidf (shipped)", "tfidf", {}),
    ("minilm neighbours", "minilm", {}),
    ("both neighbours", "both", {}),
]
SEMANTIC_GRID = [
    (f"semantic {text} s={weight} T={temp}", "tfidf", {
        "semantic_weight": weight, "semantic_text": text, "semantic_temperature": temp,
    })
    for text in ("post", "source")
    for weight in (0.05, 0.1, 0.2, 0.3)
    for temp in (0.05, 0.1, 0.2)
]  # fmt: skip
# The two levers together, at the grid's best semantic setting on dev (the best mean of
# F1@1, F1@3 and MAP@5).
COMBINED = [
    ("both + semantic source s=0.1 T=0.1", "both", {
        "semantic_weight": 0.1, "semantic_text": "source", "semantic_temperature": 0.1,
    }),
]  # fmt: skip


def cache_embeddings(model: Path, work: Path) -> tuple[Path, float]:
    """A copy of `model` under `work` with the training posts' MiniLM embeddings cached in it
    (once: an existing copy is reused); the seconds the embedding took (0 when reused)."""
    copy = work / "model"
    if not copy.is_dir():
        shutil.copytree(model, copy)
    start = time.perf_counter()
    index = load_checkpoint(copy).retrieval
    if index is None:
        raise ValueError(f"{model}: the model has no model.retrieval index")
    if index.dense is not None:
        return copy, 0.0
    options = dataclasses.replace(index.options, encoder="minilm")
    dense = index.with_options(options, embed=sentence_embed()).dense
    assert dense is not None
    dense.save(copy)
    return copy, time.perf_counter() - start


def run_variant(
    model: Path, dev: Path, out: Path, encoder: str, overrides: dict
) -> tuple[dict[str, float], float, float, float]:
    """(scores, predict seconds cold, predict seconds warm, load average after) of one
    variant; warm: the same predictor predicting the posts again (MiniLM loaded, keyphrase
    embeddings cached)."""
    predictor = Predictor.load(model)
    if encoder != predictor.processor.retrieval.options.encoder:  # type: ignore[union-attr]
        predictor.use_retrieval_encoder(encoder)
    predictor.decode = dataclasses.replace(predictor.decode, **overrides)
    posts = list(stream_posts(str(dev), ErrorLog()))
    start = time.perf_counter()
    with PredictionWriter(out) as writer:
        for result in predictor.predict_many(posts, 32):
            writer.write(result.to_prediction())
    cold = time.perf_counter() - start
    start = time.perf_counter()
    for _ in predictor.predict_many(posts, 32):
        pass
    warm = time.perf_counter() - start
    files = load_aligned(str(out), str(dev))
    return evaluate(files.predictions, files.posts).scores, cold, warm, os.getloadavg()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, type=Path, help="trained model directory")
    parser.add_argument("--dev", required=True, type=Path, help="dev posts (.jsonl)")
    parser.add_argument("--work", required=True, type=Path, help="scratch folder")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--only", nargs="*", help="run only the variants with these names")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    args.work.mkdir(parents=True, exist_ok=True)
    model, embed_seconds = cache_embeddings(args.model, args.work)
    print(f"training posts embedded and cached in {embed_seconds:.1f} s (0: cached already)")
    header = f"| {'variant':<34} |" + "".join(f" {m:>12} |" for m in METRICS)
    print(header + " predict s cold | warm | load |")
    print("|" + "---|" * (len(METRICS) + 4))
    rows = []
    for name, encoder, overrides in ENCODER_VARIANTS + SEMANTIC_GRID + COMBINED:
        if args.only and name not in args.only:
            continue
        out = args.work / f"{name.replace(' ', '_').replace('=', '')}.jsonl"
        scores, cold, warm, load = run_variant(model, args.dev, out, encoder, overrides)
        row = f"| {name:<34} |" + "".join(f" {scores[m]:12.2f} |" for m in METRICS)
        print(row + f" {cold:14.1f} | {warm:4.1f} | {load:4.1f} |", flush=True)
        rows.append({"variant": name, "cold": cold, "warm": warm, "load": load, **scores})
    (args.work / "minilm_levers.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()

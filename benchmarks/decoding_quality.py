"""How decoding settings change a trained model's dev scores (same model, same posts).

Run: .venv/bin/python benchmarks/decoding_quality.py --model DIR [--posts N]

Decodes the benchmark's dev posts (../shared valid lines 4,771-5,370, the agreed split) with
greedy search and beam search at several beam sizes and length penalties, with and without
the block on punctuation and placeholders (`words_only`), and scores each
with the standard evaluator (F1@1, F1@3, MAP@5, and the share of predictions whose words all
appear in the source: a copy-heavy decoder scores high there).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from mmkp.data.batching import collate, make_examples
from mmkp.data.formats import load_posts
from mmkp.decoding.generate import generate_keyphrases
from mmkp.evaluation.metrics import evaluate
from mmkp.training.checkpoint import load_checkpoint
from mmkp.training.data import example_options

POSTS = Path(__file__).resolve().parents[2] / "shared" / "data" / "cmkp" / "valid_ocr_kw.txt"
TRAIN_LINES = 4770
SETTINGS = [  # (strategy, beam size, penalty, words only)
    ("greedy", 1, "average", True),
    ("beam", 5, "average", True),
    ("beam", 10, "average", True),
    ("beam", 10, "none", True),
    ("beam", 10, "average", False),
    ("beam", 20, "average", True),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, required=True, help="a checkpoint directory")
    parser.add_argument("--posts", type=int, default=600, help="dev posts to decode")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    checkpoint = load_checkpoint(args.model)
    dev = load_posts(POSTS)[TRAIN_LINES : TRAIN_LINES + args.posts]
    options = example_options(checkpoint.config.data)
    examples = make_examples(dev, checkpoint.vocab, checkpoint.labels, one2one=False, **options)
    print(f"model {args.model}; {len(dev)} dev posts")
    print("| decoding | F1@1 | F1@3 | MAP@5 | keyphrases/post | all words in source | s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for strategy, beam, penalty, words_only in SETTINGS:
        start = time.perf_counter()
        predictions: list[list[str]] = []
        for begin in range(0, len(examples), args.batch_size):
            batch = collate(examples[begin : begin + args.batch_size], checkpoint.vocab)
            rows = generate_keyphrases(
                checkpoint.model,
                batch,
                checkpoint.vocab,
                beam_size=beam,
                strategy=strategy,
                penalty=penalty,
                words_only=words_only,
            )
            predictions += [[kp.text for kp in row] for row in rows]
        seconds = time.perf_counter() - start
        scores = evaluate(predictions, dev).scores
        count = sum(map(len, predictions))
        copied = sum(
            set(kp.split()) <= set(post.source_text().split())
            for kps, post in zip(predictions, dev, strict=True)
            for kp in kps
        )
        name = "greedy" if strategy == "greedy" else f"beam {beam}, penalty {penalty}"
        name += "" if words_only else ", punctuation allowed"
        print(
            f"| {name} | {scores['F1@1']:.2f} | {scores['F1@3']:.2f} | {scores['MAP@5']:.2f} "
            f"| {count / len(dev):.2f} | {100 * copied / max(count, 1):.0f}% | {seconds:.0f} |"
        )


if __name__ == "__main__":
    main()

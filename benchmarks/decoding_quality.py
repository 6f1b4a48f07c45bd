"""How decoding settings change a trained model's dev scores (same model, same posts).

Run: .venv/bin/python benchmarks/decoding_quality.py --model DIR [--posts N]

Decodes the benchmark's dev posts (../shared valid lines 4,771-5,370, the agreed split) with
greedy search and beam search at several beam sizes and length penalties, with and without
the block on punctuation and placeholders (`words_only`), and scores each
with the standard evaluator (F1@1, F1@3, MAP@5, and the share of predictions whose words all
appear in the source: a copy-heavy decoder scores high there). Then the confidence cut-off
(`decode.max_score_gap`) at each of `--gaps`, applied to the default beam's scored keyphrases
(`within_gap`, the filter `to_keyphrases` applies).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from mmkp.data.batching import collate
from mmkp.data.formats import load_posts
from mmkp.data.layout import source_text
from mmkp.data.processor import TextProcessor
from mmkp.data.record import Post
from mmkp.decoding.config import DecodeConfig
from mmkp.decoding.generate import ScoredKeyphrase, generate_keyphrases, within_gap
from mmkp.evaluation.metrics import evaluate
from mmkp.inference.checkpoint import load_checkpoint

POSTS = Path(__file__).resolve().parents[2] / "shared" / "data" / "cmkp" / "valid_ocr_kw.txt"
TRAIN_LINES = 4770
DEFAULT = ("beam", 10, "average", True)
SETTINGS = [  # (strategy, beam size, penalty, words only)
    ("greedy", 1, "average", True),
    ("beam", 5, "average", True),
    DEFAULT,
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
    parser.add_argument(
        "--gaps", type=float, nargs="*", default=[0.5, 0.7, 1.0], help="max_score_gap values"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    checkpoint = load_checkpoint(args.model)
    dev = load_posts(POSTS)[TRAIN_LINES : TRAIN_LINES + args.posts]
    processor = TextProcessor(checkpoint.vocab, checkpoint.labels, checkpoint.config.text)
    examples = processor.examples(dev, one2one=False)
    print(f"model {args.model}; {len(dev)} dev posts")
    print("| decoding | F1@1 | F1@3 | MAP@5 | keyphrases/post | all words in source | s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    default_rows: list[list[ScoredKeyphrase]] = []
    for setting in SETTINGS:
        strategy, beam, penalty, words_only = setting
        start = time.perf_counter()
        rows: list[list[ScoredKeyphrase]] = []
        for begin in range(0, len(examples), args.batch_size):
            batch = collate(examples[begin : begin + args.batch_size], checkpoint.vocab)
            decode = DecodeConfig(
                beam_size=beam, strategy=strategy, penalty=penalty, words_only=words_only
            )
            rows += generate_keyphrases(checkpoint.model, batch, checkpoint.vocab, decode)
        seconds = time.perf_counter() - start
        if setting == DEFAULT:
            default_rows = rows
        name = "greedy" if strategy == "greedy" else f"beam {beam}, penalty {penalty}"
        name += "" if words_only else ", punctuation allowed"
        print(table_row(name, [[kp.text for kp in row] for row in rows], dev, f"{seconds:.0f}"))
    for gap in args.gaps:
        kept = [within_gap(row, gap) for row in default_rows]
        name = f"beam 10, penalty average, max_score_gap {gap}"
        print(table_row(name, [[kp.text for kp in row] for row in kept], dev, "-"))


def table_row(name: str, predictions: list[list[str]], dev: list[Post], seconds: str) -> str:
    scores = evaluate(predictions, dev).scores
    count = sum(map(len, predictions))
    copied = sum(
        set(kp.split()) <= set(source_text(post).split())
        for kps, post in zip(predictions, dev, strict=True)
        for kp in kps
    )
    return (
        f"| {name} | {scores['F1@1']:.2f} | {scores['F1@3']:.2f} | {scores['MAP@5']:.2f} "
        f"| {count / len(dev):.2f} | {100 * copied / max(count, 1):.0f}% | {seconds} |"
    )


if __name__ == "__main__":
    main()

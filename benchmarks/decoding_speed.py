"""Prediction speed: beam search posts/s, batched vs one post at a time, and peak memory.

Run: .venv/bin/python benchmarks/decoding_speed.py [--model DIR] [--posts N] [--batch-size B]

With `--model` (a checkpoint directory) the trained model decodes the benchmark's dev posts
(../shared valid lines 4,771-); without it an untrained model of the cmkp.yaml sizes with a
vocabulary built from the train lines does, which is the worst case for beam search: an
untrained decoder rarely ends a phrase, so every example runs all `max_len` steps.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import torch

from mmkp.data.batching import collate
from mmkp.data.formats import load_posts
from mmkp.data.processor import TextProcessor
from mmkp.data.vocab import LabelSet, Vocab
from mmkp.decoding.config import DecodeConfig
from mmkp.decoding.generate import generate_keyphrases
from mmkp.inference.checkpoint import load_checkpoint
from mmkp.model.mmkp.config import MMKPConfig
from mmkp.model.registry import build_model

POSTS = Path(__file__).resolve().parents[2] / "shared" / "data" / "cmkp" / "valid_ocr_kw.txt"
TRAIN_LINES = 4770


def untrained(train_posts: list) -> tuple[torch.nn.Module, Vocab, LabelSet]:
    vocab, labels = Vocab.build(train_posts), LabelSet.build(train_posts)
    config = MMKPConfig(embeddings="random", use_image=False)  # cmkp.yaml's sizes
    torch.manual_seed(0)
    return build_model(config, vocab, labels).eval(), vocab, labels


def timed(model, vocab, examples, batch_size: int, beam_size: int) -> tuple[float, int]:
    """Seconds to decode `examples` in batches of `batch_size`, and the keyphrases found."""
    found = 0
    start = time.perf_counter()
    for begin in range(0, len(examples), batch_size):
        batch = collate(examples[begin : begin + batch_size], vocab)
        rows = generate_keyphrases(model, batch, vocab, DecodeConfig(beam_size=beam_size))
        found += sum(len(row) for row in rows)
    return time.perf_counter() - start, found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, help="a checkpoint directory (default: untrained)")
    parser.add_argument("--posts", type=int, default=300, help="dev posts to decode")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--beam-size", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    posts = load_posts(POSTS)
    if args.model:
        checkpoint = load_checkpoint(args.model)
        model, vocab, labels = checkpoint.model, checkpoint.vocab, checkpoint.labels
    else:
        model, vocab, labels = untrained(posts[:TRAIN_LINES])
    dev = posts[TRAIN_LINES : TRAIN_LINES + args.posts]
    examples = TextProcessor(vocab, labels).examples(dev, one2one=False)
    print(f"model: {args.model or 'untrained, cmkp.yaml sizes'}; vocab {len(vocab)}, "
          f"labels {len(labels)}; {len(dev)} dev posts; beam {args.beam_size}; "
          f"{args.threads} threads")  # fmt: skip
    for batch_size in (args.batch_size, 1):
        seconds, found = timed(model, vocab, examples, batch_size, args.beam_size)
        print(
            f"batch {batch_size:3d}: {seconds:6.1f} s, {len(dev) / seconds:7.1f} posts/s, "
            f"{found / len(dev):.2f} keyphrases/post"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory: {peak:.0f} MiB")


if __name__ == "__main__":
    main()

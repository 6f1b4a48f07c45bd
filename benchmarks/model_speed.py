"""Training speed of the MM-MKP network alone (no data loading), per stage, on this CPU.

Random batches shaped like the benchmark data (vocabulary 12k, 2k labels, 36 source tokens,
4 target tokens, batch 64); stage 2 freezes what stage 1 trained, as the training recipe does.

    .venv/bin/python benchmarks/model_speed.py --threads 1 2
    .venv/bin/python benchmarks/model_speed.py --output-vocab 0 5000   # the target vocabulary

`--output-vocab`: L_gen pairs/s (text only, vocabulary 20,429 as on the real split, labels
2,441) with p_p over the whole vocabulary (0) or `model.output_vocab` words + label words.
"""

from __future__ import annotations

import argparse
import time

import torch

from mmkp.data.batch import Batch
from mmkp.model.mmkp.config import MMKPConfig
from mmkp.model.mmkp.model import MMKP

VOCAB, LABELS, BATCH, SRC_LEN, TRG_LEN = 12_000, 2_000, 64, 36, 4


def random_batch(with_image: bool, vocab: int = VOCAB, labels: int = LABELS) -> Batch:
    ids = torch.randint(5, vocab, (BATCH, SRC_LEN))
    return Batch(
        src_ids=ids,
        src_ext_ids=ids,
        src_types=torch.randint(0, 3, (BATCH, SRC_LEN)),
        src_mask=torch.ones(BATCH, SRC_LEN, dtype=torch.bool),
        oov_words=[[] for _ in range(BATCH)],
        grid=torch.randn(BATCH, 49, 1280) if with_image else None,
        has_image=torch.full((BATCH,), with_image),
        trg_in=torch.randint(5, vocab, (BATCH, TRG_LEN)),
        trg_out=torch.randint(5, vocab, (BATCH, TRG_LEN)),
        trg_mask=torch.ones(BATCH, TRG_LEN, dtype=torch.bool),
        label=torch.randint(0, labels, (BATCH,)),
        match_label=torch.ones(BATCH),
        match_prob=torch.full((BATCH,), float("nan")),
        post_index=torch.arange(BATCH),
    )


def pairs_per_second(model: MMKP, batch: Batch, terms: set[str], steps: int) -> float:
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=1e-3)
    model.train()
    for step in range(steps + 3):  # 3 warm-up steps
        if step == 3:
            start = time.perf_counter()
        optimizer.zero_grad()
        model(batch, terms).total.backward()
        optimizer.step()
    return BATCH * steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, nargs="+", default=[1])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--output-vocab", type=int, nargs="+", help="0: the whole vocabulary")
    args = parser.parse_args()
    if args.output_vocab:
        output_vocab_speed(args.output_vocab, args.threads[0], args.steps)
        return
    print("| threads | input | stage 1 pairs/s | stage 2 pairs/s | parameters |")
    print("|---:|---|---:|---:|---:|")
    for threads in args.threads:
        torch.set_num_threads(threads)
        for with_image in (False, True):
            torch.manual_seed(0)
            model = MMKP(
                MMKPConfig(embeddings="random"),
                vocab_size=VOCAB,
                label_word_ids=torch.randint(5, VOCAB, (LABELS, 3)),
            )
            batch = random_batch(with_image)
            stage1 = pairs_per_second(model, batch, {"itm", "irtm", "cla"}, args.steps)
            for name, param in model.named_parameters():
                param.requires_grad = name.startswith(("decoder.", "generator."))
            stage2 = pairs_per_second(model, batch, {"gen"}, args.steps)
            size = sum(p.numel() for p in model.parameters())
            kind = "text + 49x1280 grid" if with_image else "text only"
            print(f"| {threads} | {kind} | {stage1:.0f} | {stage2:.0f} | {size:,} |")


def output_vocab_speed(sizes: list[int], threads: int, steps: int) -> None:
    """L_gen pairs/s with a full output layer against a target vocabulary, same batch."""
    vocab, labels = 20_429, 2_441  # the real split's vocabulary and label set
    torch.set_num_threads(threads)
    batch = random_batch(with_image=False, vocab=vocab, labels=labels)
    print("| output vocabulary | p_p size | L_gen pairs/s |")
    print("|---:|---:|---:|")
    for size in sizes:
        torch.manual_seed(0)
        config = MMKPConfig(embeddings="random", use_image=False, output_vocab=size or None)
        # Label words are mostly frequent words: drawn from the 6,000 most frequent ids, p_p
        # gets about as many entries as the real split's model has (5,917 of 20,429).
        label_words = torch.randint(5, 6_000, (labels, 3))
        model = MMKP(config, vocab_size=vocab, label_word_ids=label_words)
        speed = pairs_per_second(model, batch, {"gen"}, steps)
        print(f"| {size or 'all'} | {model.generator.out.out_features:,} | {speed:.0f} |")


if __name__ == "__main__":
    main()

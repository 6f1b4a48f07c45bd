"""Training speed of the MM-MKP network alone (no data loading), per stage, on this CPU.

Random batches shaped like the benchmark data (vocabulary 12k, 2k labels, 36 source tokens,
4 target tokens, batch 64); stage 2 freezes what stage 1 trained, as the training recipe does.

    .venv/bin/python benchmarks/model_speed.py --threads 1 2
"""

from __future__ import annotations

import argparse
import time

import torch

from mmkp.data.batch import Batch
from mmkp.model.mmkp.config import MMKPConfig
from mmkp.model.mmkp.model import MMKP

VOCAB, LABELS, BATCH, SRC_LEN, TRG_LEN = 12_000, 2_000, 64, 36, 4


def random_batch(with_image: bool) -> Batch:
    ids = torch.randint(5, VOCAB, (BATCH, SRC_LEN))
    return Batch(
        src_ids=ids,
        src_ext_ids=ids,
        src_types=torch.randint(0, 3, (BATCH, SRC_LEN)),
        src_mask=torch.ones(BATCH, SRC_LEN, dtype=torch.bool),
        oov_words=[[] for _ in range(BATCH)],
        grid=torch.randn(BATCH, 49, 1280) if with_image else None,
        has_image=torch.full((BATCH,), with_image),
        trg_in=torch.randint(5, VOCAB, (BATCH, TRG_LEN)),
        trg_out=torch.randint(5, VOCAB, (BATCH, TRG_LEN)),
        trg_mask=torch.ones(BATCH, TRG_LEN, dtype=torch.bool),
        label=torch.randint(0, LABELS, (BATCH,)),
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
    args = parser.parse_args()
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


if __name__ == "__main__":
    main()

"""The shipped config on a GPU (issue 21): prediction posts/s at several batch sizes, training
pairs/s of stage 1, peak GPU memory, and how far the GPU's keyphrases are from the CPU's.

Run (one short script for a lent GPU machine; exits with a clear line where CUDA is missing):

    .venv/bin/python benchmarks/gpu.py --model SEED1_MODEL \
        [--posts ../shared/data/cmkp/valid_ocr_kw.txt] [--repeat 4] \
        [--batch-sizes 64 256 1024] [--train-batch-sizes 64 256] [--train-steps 60] \
        [--reference cpu_predictions.jsonl] [--device cuda] [--out benchmarks/gpu.md]

Prediction is what `mmkp predict --input` does after loading (`Predictor.predict_many`:
retrieval, beam 10, rerank, top 5) over every post of the file, `--repeat` times over for
volume, after one warm-up batch; the clock stops when the last result is out (each result
is read back to the CPU, so nothing is left queued on the GPU). `--reference` (the CPU's
`mmkp predict` output for the same file) gives the share of posts whose keyphrase lists are
identical and whose first keyphrase is (GPU kernels sum in other orders than the CPU's, so
exact equality is not expected). Training is `speed_train.py` on the device at each batch
size, fp32 and bf16. `--device cpu` runs the same measurements on the CPU (a dry run of
this script on a machine without a GPU).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
POSTS = ROOT.parent / "shared" / "data" / "cmkp" / "valid_ocr_kw.txt"


def prediction_rows(args: argparse.Namespace) -> list[str]:
    """One markdown row per batch size: posts/s, peak GPU memory, agreement with the CPU."""
    from mmkp.data.formats import load_posts
    from mmkp.inference.predictor import Predictor

    posts = load_posts(args.posts)[: args.limit]
    reference = _reference(args.reference)
    predictor = Predictor.load(args.model, device=args.device)
    rows = []
    for batch_size in args.batch_sizes:
        list(predictor.predict_many(posts[:batch_size], batch_size))  # warm-up, this shape
        _reset_peak(args.device)
        start = time.perf_counter()
        results = []
        for _ in range(args.repeat):
            results = [r.texts for r in predictor.predict_many(posts, batch_size)]
        seconds = time.perf_counter() - start
        agree = _agreement(posts, results, reference)
        rate = len(posts) * args.repeat / seconds
        rows.append(
            f"| predict | {batch_size} | fp32 | {rate:,.0f} posts/s | {_peak(args)} | {agree} |"
        )
        print(rows[-1], flush=True)
    return rows


def training_rows(args: argparse.Namespace) -> list[str]:
    """One markdown row per batch size and precision, from `speed_train.py` on the device."""
    rows = []
    precisions = ("fp32",) if args.device == "cpu" else ("fp32", "bf16")
    for batch_size in args.train_batch_sizes:
        for precision in precisions:
            command = [
                sys.executable,
                str(ROOT / "benchmarks" / "speed_train.py"),
                *("--posts", str(args.posts), "--steps", str(args.train_steps)),
                *("--device", args.device, "--precision", precision),
                *("--batch-size", str(batch_size)),
            ]
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                rows.append(
                    f"| train | {batch_size} | {precision} | failed: {_last_line(done)} | | |"
                )
            else:
                figures = json.loads(done.stdout.strip().splitlines()[-1])
                peak = figures.get("gpu_peak_mib")
                memory = f"{peak:,.0f} MiB" if peak is not None else "(CPU)"
                rate = f"{figures['pairs_per_s_wall']:,.0f} pairs/s"
                rows.append(f"| train | {batch_size} | {precision} | {rate} | {memory} | |")
            print(rows[-1], flush=True)
    return rows


def _reference(path: Path | None) -> dict[str, list[str]] | None:
    if path is None:
        return None
    from mmkp.evaluation.prediction_files import read_predictions

    return {str(p.id): p.keyphrases for p in read_predictions(path)}


def _agreement(posts: list, results: list[list[str]], reference: dict | None) -> str:
    if reference is None:
        return ""
    pairs = [(got, reference[p.id]) for p, got in zip(posts, results, strict=True)]
    same = sum(got == want for got, want in pairs) / len(pairs)
    first = sum(got[:1] == want[:1] for got, want in pairs) / len(pairs)
    return f"lists {same:.1%}, first {first:.1%}"


def _reset_peak(device: str) -> None:
    if device != "cpu":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)


def _peak(args: argparse.Namespace) -> str:
    if args.device == "cpu":
        return "(CPU)"
    return f"{torch.cuda.max_memory_allocated(args.device) / 2**20:,.0f} MiB"


def _last_line(done: subprocess.CompletedProcess) -> str:
    lines = (done.stderr or done.stdout).strip().splitlines()
    return lines[-1] if lines else f"exit {done.returncode}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True, help="a model of configs/cmkp.yaml")
    parser.add_argument("--posts", type=Path, default=POSTS, help="the CMKP valid split file")
    parser.add_argument("--limit", type=int, help="only the first N posts (a dry run)")
    parser.add_argument("--repeat", type=int, default=1, help="passes over the posts timed")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[64, 256, 1024])
    parser.add_argument("--train-batch-sizes", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--train-steps", type=int, default=60)
    parser.add_argument("--reference", type=Path, help="the CPU's `mmkp predict` output")
    parser.add_argument("--device", default="cuda", help="cuda | cuda:N | cpu (dry run)")
    parser.add_argument("--out", type=Path, help="also write the table here")
    args = parser.parse_args()
    if args.device != "cpu" and not torch.cuda.is_available():
        sys.exit(f"gpu.py: torch sees no CUDA GPU here (device {args.device!r})")
    name = torch.cuda.get_device_name(args.device) if args.device != "cpu" else "CPU"
    header = [
        f"{name}, torch {torch.__version__}, {time.strftime('%Y-%m-%d %H:%M')}",
        "",
        "| | batch | precision | throughput | peak GPU memory | keyphrases vs the CPU's |",
        "|---|---:|---|---:|---:|---|",
    ]
    print("\n".join(header), flush=True)
    table = "\n".join(header + prediction_rows(args) + training_rows(args)) + "\n"
    if args.out is not None:
        args.out.write_text(table, encoding="utf-8")


if __name__ == "__main__":
    main()

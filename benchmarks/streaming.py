"""Prediction time and peak memory as the input grows (issue 21, "scaling"): `mmkp predict`
streams a file of N posts, for several N; time should grow linearly and memory stay flat.

    PYTHONPATH=src .venv/bin/python benchmarks/streaming.py --model runs/real-seed1/model \
        --posts ../../shared/data/cmkp/valid_ocr_kw.txt --sizes 1000 3000 10000 --out runs/streaming

The N posts are generated from the file's real posts, all different: post i takes the text of
one real post, the OCR of another and the visual entities of a third, drawn at random (seed 0)
until its X_T is new, so MiniLM's caches are not handed whole posts again the way repeating
the 600 dev posts did (the figures of sessions 3-5). Written as JSONL; each size runs as its
own `mmkp predict --input ... --threads 1` process, timed with its own peak resident memory
(`os.wait4`). Prints one table.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

from mmkp.data.formats import load_posts
from mmkp.data.record import Post


def write_posts(posts: list[Post], n: int, path: Path) -> None:
    """`n` distinct posts recombined from `posts` (module docstring)."""
    rng = random.Random(0)
    seen: set[tuple[str, str, tuple[str, ...]]] = set()
    with path.open("w", encoding="utf-8") as out:
        while len(seen) < n:
            text, ocr, entities = (rng.choice(posts) for _ in range(3))
            key = (text.text, ocr.ocr, tuple(entities.entity_names))
            if key in seen:
                continue
            seen.add(key)
            record = text.to_dict() | {
                "id": f"stream-{len(seen) - 1:07d}",
                "ocr": ocr.ocr,
                "entities": [entity.to_json() for entity in entities.entities],
            }
            out.write(json.dumps(record) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--posts", type=Path, required=True, help="the CMKP valid split file")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 3000, 10000])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--set", action="append", default=[], help="passed to mmkp predict")
    parser.add_argument("--retrieval-encoder", help="passed to mmkp predict")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    real = load_posts(args.posts)
    rows = ["| posts | seconds | posts/s | peak RSS (MiB) | load at start |"]
    rows.append("|---:|---:|---:|---:|---:|")
    for n in args.sizes:
        source = args.out / f"posts-{n}.jsonl"
        write_posts(real, n, source)
        command = [sys.executable, "-m", "mmkp", "predict", "--model", str(args.model)]
        command += ["--input", str(source), "--out", str(args.out / f"pred-{n}.jsonl")]
        command += ["--threads", "1", *(f"--set={item}" for item in args.set)]
        if args.retrieval_encoder:
            command += ["--retrieval-encoder", args.retrieval_encoder]
        load = os.getloadavg()[0]
        start = time.perf_counter()
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        _, status, usage = os.wait4(child.pid, 0)  # this child's own peak memory
        seconds = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        if child.returncode != 0:
            raise SystemExit(f"{n} posts: `{' '.join(command)}` failed")
        peak = usage.ru_maxrss / 1024
        rows.append(f"| {n} | {seconds:.1f} | {n / seconds:.1f} | {peak:.0f} | {load:.2f} |")
        print(rows[-1], flush=True)
    print("\n".join(rows))


if __name__ == "__main__":
    main()

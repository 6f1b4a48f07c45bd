"""Prediction speed of the code before and after a change, measured in one run (issue 21).

Run: .venv/bin/python benchmarks/speed.py --model DIR --before ../base/src [--after src]
        [--rounds 3] [--batch-size 64] [--out benchmarks/speed.md]

Each round runs one child process per side, alternating before / after, with the side's
source tree first on PYTHONPATH and 1 torch thread: the child loads the model (not timed),
predicts the 600 dev posts of the agreed split (valid lines 4,771-5,370) as `mmkp predict
--input` does (`Predictor.predict_many`: retrieval, beam search, rerank, top k), and reports
posts/s by wall clock and by process CPU time (the latter holds up better on a machine
shared with other jobs), its peak RSS, and its predictions. The load average is written
beside each figure, and the two sides' predictions are byte-compared (an exact change gives
identical keyphrases and scores). The table is printed and written to --out.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

POSTS = Path(__file__).resolve().parents[2] / "shared" / "data" / "cmkp" / "valid_ocr_kw.txt"
DEV = slice(4770, 5370)


def child(model: str, posts_path: str, batch_size: int, out: str) -> None:
    """One measurement in this process: prints a JSON line, writes the predictions."""
    import resource
    import time

    import torch

    from mmkp.data.formats import load_posts
    from mmkp.inference.predictor import Predictor

    torch.set_num_threads(1)
    posts = load_posts(posts_path)[DEV]
    predictor = Predictor.load(model)
    list(predictor.predict_many(posts[:batch_size], batch_size))  # warm-up
    wall, cpu = time.perf_counter(), time.process_time()
    results = list(predictor.predict_many(posts, batch_size))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    with open(out, "w") as f:
        for r in results:
            f.write(json.dumps([r.id, r.texts, [kp.score for kp in r.keyphrases]]) + "\n")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"wall": len(posts) / wall, "cpu": len(posts) / cpu, "rss": peak}))


def measure(src: Path, args: argparse.Namespace, out: Path) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=str(src.resolve()), OMP_NUM_THREADS="1")
    command = [sys.executable, __file__, "--child", "--model", str(args.model)]
    command += ["--posts", str(args.posts), "--batch-size", str(args.batch_size)]
    load = os.getloadavg()[0]
    done = subprocess.run(
        [*command, "--predictions", str(out)], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"{src}: the child failed:\n{done.stderr}")
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "load": load}


Runs = dict[str, list[dict[str, float]]]


def table(runs: Runs, identical: bool, args: argparse.Namespace) -> str:
    rows = [
        f"prediction, {args.batch_size} posts a batch, 1 thread: 600 dev posts, beam 10, "
        "retrieval, rerank, top 5 (medians of "
        f"{args.rounds} alternating rounds; load = 1-min load average before each run)",
        "",
        "| | before | after | ratio |",
        "|---|---:|---:|---:|",
    ]
    for key, name in (("cpu", "posts/s (CPU time)"), ("wall", "posts/s (wall)")):
        before = statistics.median(r[key] for r in runs["before"])
        after = statistics.median(r[key] for r in runs["after"])
        rows.append(f"| {name} | {before:.1f} | {after:.1f} | {after / before:.2f}x |")
    before = max(r["rss"] for r in runs["before"])
    after = max(r["rss"] for r in runs["after"])
    rows.append(f"| peak RSS (MiB) | {before:.0f} | {after:.0f} | {after / before:.2f}x |")
    for side in ("before", "after"):
        loads = ", ".join(f"{r['load']:.1f}" for r in runs[side])
        rows.append(f"| load ({side}) | {loads} | | |")
    rows += ["", f"predictions byte-identical: {'yes' if identical else 'NO'}"]
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, required=True, help="a model directory")
    parser.add_argument("--before", type=Path, help="src/ of the code before the change")
    parser.add_argument("--after", type=Path, default=Path(__file__).parents[1] / "src")
    parser.add_argument("--posts", type=Path, default=POSTS, help="the CMKP valid split file")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "speed.md")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--predictions", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(str(args.model), str(args.posts), args.batch_size, args.predictions)
        return
    if args.before is None:
        parser.error("--before (the src/ folder of the code before the change) is required")
    runs: Runs = {"before": [], "after": []}
    with tempfile.TemporaryDirectory() as tmp:
        files = {side: Path(tmp) / f"{side}.jsonl" for side in runs}
        for round_ in range(args.rounds):
            for side, src in (("before", args.before), ("after", args.after)):
                runs[side].append(measure(src, args, files[side]))
                print(f"round {round_ + 1} {side}: {runs[side][-1]}", file=sys.stderr)
        identical = files["before"].read_bytes() == files["after"].read_bytes()
    text = table(runs, identical, args)
    print(text)
    args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()

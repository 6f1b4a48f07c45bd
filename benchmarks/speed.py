"""Prediction speed of the code before and after a change, measured in one run (issue 21).

Run: .venv/bin/python benchmarks/speed.py --model DIR --before ../base/src [--after src]
        [--rounds 3] [--batch-size 64] [--minilm-precision bf16] [--out benchmarks/speed.md]
     .venv/bin/python benchmarks/speed.py --images --before ../base/src [--after src]
        [--rounds 3] [--out benchmarks/speed-images.md]

With --images the children featurize images instead (OCR + entities + grid, end to end:
`speed_images.py`), two sets, and the outputs (OCR lines, entities, grids) are compared.

Each round runs one child process per side, alternating before / after, with the side's
source tree first on PYTHONPATH and 1 torch thread: the child loads the model (not timed),
predicts the 600 dev posts of the agreed split (valid lines 4,771-5,370) as `mmkp predict
--input` does (`Predictor.predict_many`: retrieval, beam search, rerank, top k), and reports
posts/s by wall clock and by process CPU time (the latter holds up better on a machine
shared with other jobs), its peak RSS, and its predictions. The load average is written
beside each figure, and the two sides' predictions are byte-compared (an exact change gives
identical keyphrases and scores). `--minilm-precision bf16` embeds in bfloat16 on the after
side only: with the same tree on both sides it measures that choice against fp32. The table
is printed and written to --out.
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


def child(
    model: str, posts_path: str, batch_size: int, out: str, minilm_precision: str | None
) -> None:
    """One measurement in this process: prints a JSON line, writes the predictions."""
    import resource
    import time

    import torch

    from mmkp.data.formats import load_posts
    from mmkp.inference.predictor import Predictor

    torch.set_num_threads(1)
    posts = load_posts(posts_path)[DEV]
    predictor = Predictor.load(model)
    if minilm_precision is not None:
        predictor.use_minilm_precision(minilm_precision)
    list(predictor.predict_many(posts[:batch_size], batch_size))  # warm-up
    wall, cpu = time.perf_counter(), time.process_time()
    results = list(predictor.predict_many(posts, batch_size))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    with open(out, "w") as f:
        for r in results:
            f.write(json.dumps([r.id, r.texts, [kp.score for kp in r.keyphrases]]) + "\n")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"wall": len(posts) / wall, "cpu": len(posts) / cpu, "rss": peak}))


def measure(
    src: Path, args: argparse.Namespace, out: Path, images: str | None, side: str
) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=str(src.resolve()), OMP_NUM_THREADS="1")
    command = [sys.executable, __file__, "--child", "--predictions", str(out)]
    if images is not None:
        command += ["--images", "--image-list", images]
    else:
        command += ["--model", str(args.model), "--posts", str(args.posts)]
        command += ["--batch-size", str(args.batch_size)]
        if side == "after" and args.minilm_precision is not None:
            command += ["--minilm-precision", args.minilm_precision]
    load = os.getloadavg()[0]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{src}: the child failed:\n{done.stderr}")
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "load": load}


def image_child(image_list: str, out: str) -> None:
    from speed_images import child as featurize_child

    paths = [Path(line) for line in Path(image_list).read_text().splitlines()]
    print(json.dumps(featurize_child(paths, out)))


Runs = dict[str, list[dict[str, float]]]


def table(title: str, runs: Runs, identical: bool, rounds: int, unit: str) -> str:
    rows = [
        f"{title} (medians of {rounds} alternating rounds; load = 1-min load average before "
        "each run)",
        "",
        "| | before | after | ratio |",
        "|---|---:|---:|---:|",
    ]
    for key, name in (("cpu", f"{unit}/s (CPU time)"), ("wall", f"{unit}/s (wall)")):
        before = statistics.median(r[key] for r in runs["before"])
        after = statistics.median(r[key] for r in runs["after"])
        rows.append(f"| {name} | {before:.1f} | {after:.1f} | {after / before:.2f}x |")
    before = max(r["rss"] for r in runs["before"])
    after = max(r["rss"] for r in runs["after"])
    rows.append(f"| peak RSS (MiB) | {before:.0f} | {after:.0f} | {after / before:.2f}x |")
    for side in ("before", "after"):
        loads = ", ".join(f"{r['load']:.1f}" for r in runs[side])
        rows.append(f"| load ({side}) | {loads} | | |")
    rows += ["", f"outputs byte-identical: {'yes' if identical else 'NO'}"]
    return "\n".join(rows)


def compare(args: argparse.Namespace, tmp: Path, title: str, images: str | None, unit: str) -> str:
    """Alternating rounds of one workload; its table."""
    runs: Runs = {"before": [], "after": []}
    files = {side: tmp / f"{side}.jsonl" for side in runs}
    for round_ in range(args.rounds):
        for side, src in (("before", args.before), ("after", args.after)):
            runs[side].append(measure(src, args, files[side], images, side))
            print(f"{title}, round {round_ + 1} {side}: {runs[side][-1]}", file=sys.stderr)
    identical = files["before"].read_bytes() == files["after"].read_bytes()
    return table(title, runs, identical, args.rounds, unit)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, help="a model directory (prediction)")
    parser.add_argument("--images", action="store_true", help="measure image featurization")
    parser.add_argument("--before", type=Path, help="src/ of the code before the change")
    parser.add_argument("--after", type=Path, default=Path(__file__).parents[1] / "src")
    parser.add_argument("--posts", type=Path, default=POSTS, help="the CMKP valid split file")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--minilm-precision",
        choices=("fp32", "bf16"),
        help="the after side's MiniLM precision (the before side's is its default, fp32)",
    )
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "speed.md")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--predictions", help=argparse.SUPPRESS)
    parser.add_argument("--image-list", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        if args.images:
            image_child(args.image_list, args.predictions)
        else:
            child(
                str(args.model),
                str(args.posts),
                args.batch_size,
                args.predictions,
                args.minilm_precision,
            )
        return
    if args.before is None:
        parser.error("--before (the src/ folder of the code before the change) is required")
    if not args.images and args.model is None:
        parser.error("--model is required (or --images)")
    with tempfile.TemporaryDirectory() as tmp:
        if args.images:
            text = image_tables(args, Path(tmp))
        else:
            title = (
                f"prediction, {args.batch_size} posts a batch, 1 thread: 600 dev posts, beam 10, "
                "retrieval, rerank, top 5"
            )
            text = compare(args, Path(tmp), title, None, "posts")
    print(text)
    args.out.write_text(text + "\n")


def image_tables(args: argparse.Namespace, tmp: Path) -> str:
    """One table per image set: images/s end to end, both cores (`speed_images.py`)."""
    from speed_images import write_images

    tables = []
    for name, paths in write_images(tmp).items():
        listing = tmp / f"{name}.txt"
        listing.write_text("\n".join(str(path) for path in paths) + "\n")
        title = (
            f"image featurization, {name}: {len(paths)} images, OCR + entities + grid end to "
            f"end, {os.cpu_count()} cores"
        )
        tables.append(compare(args, tmp, title, str(listing), "images"))
    return "\n\n".join(tables)


if __name__ == "__main__":
    main()

"""Scale-out rates (issue 22): `prepare` images/s and `predict` posts/s with the local engine
on 1 and 2 processes and with Ray Data on 2 actors, and DDP training pairs/s on 1 and 2
processes, all on the same generated posts with images.

    PYTHONPATH=src OMP_NUM_THREADS=1 python benchmarks/scale_out.py --out /tmp/scale-bench

Prints one JSON line per measurement; benchmarks/RESULTS.md ("Scale-out (issue 22)") holds a
run with the machine's load. Needs the `ray` extra.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

MMKP = [sys.executable, "-m", "mmkp"]
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
TRAIN_CONFIG = """\
data: {{train: {train}, dev: {dev}, features: {features}}}
model: {{name: mmkp, embeddings: random, emb_size: 50, hidden_size: 64, num_heads: 4,
        image_dim: 1280}}
train:
  seed: 1
  threads: 1
  eval_batch_size: 32
  stages:
    - {{name: stage1, epochs: {epochs}, batch_size: 16, lr: 0.001, monitor: loss,
       terms: [itm, irtm, cla, gen]}}
decode: {{beam_size: 3, max_len: 6, top_k: 5}}
"""


def timed(commands: list[list[str]]) -> float:
    """Run the commands at once; seconds until the last one ends."""
    start = time.perf_counter()
    jobs = [
        subprocess.Popen(c, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for c in commands
    ]
    for job, command in zip(jobs, commands, strict=True):
        _, err = job.communicate()
        if job.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed:\n{err.decode()[-2000:]}")
    return time.perf_counter() - start


def report(name: str, count: int, unit: str, seconds: float, **extra: object) -> None:
    rate = {f"{unit}_per_s": round(count / seconds, 2)}
    print(json.dumps({"what": name, unit: count, "seconds": round(seconds, 1)} | rate | extra))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--posts", type=int, default=96)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    from mmkp.data.synthetic import generate

    out = args.out
    data = generate(out / "gen", n_train=args.posts, n_dev=16, n_test=0, seed=1)
    lines = Path(data.train).read_text().splitlines()
    shards = out / "gen" / "shards"
    shards.mkdir(exist_ok=True)
    half = len(lines) // 2
    (shards / "a.jsonl").write_text("\n".join(lines[:half]) + "\n")
    (shards / "b.jsonl").write_text("\n".join(lines[half:]) + "\n")
    images = ["--images", str(out / "gen")]
    n = len(lines)
    print(json.dumps({"load_1_5_15_min": os.getloadavg(), "cores": os.cpu_count()}))

    # Ray's own start, apart from the work (the Ray runs below include it)
    ray_start = "import ray; ray.init(num_cpus=2, include_dashboard=False); ray.shutdown()"
    report("ray init + shutdown", 0, "posts", timed([[sys.executable, "-c", ray_start]]))

    prep = [*MMKP, "prepare", "--no-progress"]
    seconds = timed([[*prep, "--input", data.train, "--out", str(out / "p1")]])
    report("prepare local, 1 process", n, "images", seconds)
    seconds = timed(
        [
            [*prep, "--input", str(shards / f"{s}.jsonl"), *images, "--out", str(out / "p2" / s)]
            for s in ("a", "b")
        ]
    )
    report("prepare local, 2 processes", n, "images", seconds)
    ray = ["--engine", "ray", "--ray-concurrency", "2", "--input", str(shards / "*.jsonl")]
    seconds = timed([[*prep, *ray, *images, "--out", str(out / "pray")]])
    report("prepare ray, 2 actors", n, "images", seconds)

    dev = out / "pdev"
    timed([[*prep, "--input", data.dev, "--out", str(dev)]])
    config = out / "train.yaml"
    config.write_text(
        TRAIN_CONFIG.format(
            train=out / "p1" / "posts.jsonl",
            dev=dev / "posts.jsonl",
            features=out / "p1" / "features",
            epochs=args.epochs,
        )
    )
    for procs in (1, 2):
        run = out / f"train{procs}"
        launcher = [*MMKP] if procs == 1 else [*TORCHRUN, "--nproc-per-node=2", "-m", "mmkp"]
        seconds = timed([[*launcher, "train", "--config", str(config), "--out", str(run)]])
        rows = [json.loads(x) for x in (run / "stage1" / "metrics.jsonl").read_text().splitlines()]
        pairs = sum(r["train_pairs"] for r in rows)
        train_s = sum(r["train_seconds"] for r in rows)
        report(f"train, {procs} process(es)", pairs, "pairs", train_s, whole_run_s=round(seconds))

    model = str(out / "train1" / "model")
    pred = [*MMKP, "predict", "--model", model, "--device", "cpu"]
    seconds = timed([[*pred, "--input", data.train, "--out", str(out / "pred1.jsonl")]])
    report("predict local, 1 process", n, "posts", seconds)
    seconds = timed(
        [
            [
                *pred,
                "--input",
                str(shards / f"{s}.jsonl"),
                *images,
                "--out",
                str(out / f"pred2{s}.jsonl"),
            ]
            for s in ("a", "b")
        ]
    )
    report("predict local, 2 processes", n, "posts", seconds)
    seconds = timed([[*pred, *ray, *images, "--out", str(out / "predray")]])
    report("predict ray, 2 actors", n, "posts", seconds)
    print(json.dumps({"load_1_5_15_min_after": os.getloadavg()}))


if __name__ == "__main__":
    main()

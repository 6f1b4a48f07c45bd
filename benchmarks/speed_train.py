"""Training speed of the shipped config's stage 1 (issue 21): pairs/s over a few hundred steps.

Run (PYTHONPATH picks the code measured; compare two trees by running it once with each):

    PYTHONPATH=src .venv/bin/python benchmarks/speed_train.py [--steps 30] [--profile]
        [--losses out.json] [--posts ../shared/data/cmkp/valid_ocr_kw.txt]
        [--device cuda] [--precision bf16] [--batch-size 256]

Builds stage 1 of configs/cmkp.yaml on the agreed split as `mmkp train` does (1 thread),
takes the first epoch's batches, runs 3 warm-up steps, then times `--steps` Adam steps
(forward, backward, clipping, step): pairs/s by process CPU time and by wall clock, with the
load average beside. `--losses` writes every step's loss (two trees whose losses are equal are
exact), `--profile` prints torch.profiler's ops by self CPU time and input shape.
(benchmarks/training_speed.py times whole epochs through `mmkp train`; this one a fixed
number of steps, quick enough to alternate two trees on a shared machine.) `--device`,
`--precision` and `--batch-size` measure the same steps on a GPU, in its precision, at the
batch size that suits it (default: the stage's); on CUDA the figures add the peak GPU memory.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
POSTS = ROOT.parent / "shared" / "data" / "cmkp" / "valid_ocr_kw.txt"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--posts", type=Path, default=POSTS, help="the CMKP valid split file")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--losses", type=Path, help="write each step's loss here (JSON)")
    parser.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N")
    parser.add_argument("--precision", default="fp32", choices=("fp32", "bf16", "fp16"))
    parser.add_argument("--batch-size", type=int, help="pairs a step (default: the stage's)")
    args = parser.parse_args()

    from mmkp.training.config import load_config
    from mmkp.training.data import prepare_data
    from mmkp.training.device import Hardware
    from mmkp.training.loop import train_step
    from mmkp.training.recipe import StageRecipe

    paths = [f"data.train.path={args.posts}", f"data.dev.path={args.posts}"]
    config = load_config(ROOT / "configs" / "cmkp.yaml", paths)
    data = prepare_data(config.data, retrieval=config.model.retrieval)
    with tempfile.TemporaryDirectory() as out:
        recipe = StageRecipe(
            config, out, data, index=0, hardware=Hardware.from_config(args.device, args.precision)
        )
        recipe.setup()
    stage, model, hardware = recipe.stage, recipe.model, recipe.hardware
    batches, _ = data.training_batches(
        args.batch_size or stage.batch_size,
        seed=config.train.seed * 100_003 + 1,  # epoch 1's order, as the recipe seeds it
        by_length=config.train.by_length,
        with_itm="itm" in stage.terms,
    )
    batches = [hardware.to_device(b) for b in itertools.islice(batches, args.steps + 3)]
    scaler = hardware.grad_scaler()
    params = [p for p in model.parameters() if p.requires_grad]
    losses: list[float] = []

    def steps(chunk: list) -> None:
        model.train()
        for batch in chunk:
            step = train_step(
                model,
                batch,
                recipe.optimizer,
                params,
                terms=stage.terms,
                grad_clip=stage.grad_clip,
                hardware=hardware,
                scaler=scaler,
            )
            losses.append(float(step.total.detach()))  # waits for the GPU: steps timed whole

    steps(batches[:3])
    pairs = sum(batch.size for batch in batches[3:])
    load, wall, cpu = os.getloadavg()[0], time.perf_counter(), time.process_time()
    if args.profile:
        from torch.profiler import ProfilerActivity, profile

        with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
            steps(batches[3:])
        table = prof.key_averages(group_by_input_shape=True)
        print(table.table(sort_by="self_cpu_time_total", row_limit=25))
    else:
        steps(batches[3:])
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    figures = {"pairs_per_s_cpu": pairs / cpu, "pairs_per_s_wall": pairs / wall}
    if hardware.is_cuda:
        figures["gpu_peak_mib"] = torch.cuda.max_memory_allocated(hardware.device) / 2**20
    print(
        json.dumps(
            figures
            | {"steps": args.steps, "batch_size": args.batch_size or stage.batch_size}
            | {"device": str(hardware.device), "precision": args.precision}
            | {"load": load, "threads": torch.get_num_threads()}
        )
    )
    if args.losses is not None:
        args.losses.write_text(json.dumps(losses) + "\n")


if __name__ == "__main__":
    main()

"""MM-MKP and its applicable ablations on the real posts, several seeds, mean ± std on dev.

    .venv/bin/python benchmarks/real_ablations.py --out DIR [--seeds 1 2 3] [--jobs 2] [--no-train]

The packaged suite `table2` on the real posts, run by the benchmark runner
(`mmkp benchmark --suite table2 --data real`, mmkp.experiments.benchmark): configs/cmkp.yaml
(../shared valid posts 1-4,770 train, 4,771-5,370 dev; text + OCR + entities, no images)
with each ablation's `--set` overrides, one torch thread per run and `--jobs` runs side by
side, into DIR/runs/<variant>/seed-<n>/; finished runs are not retrained, so the command also
resumes and re-tabulates. The table (with each ablation's paired bootstrap p against the
full model) goes to DIR/table.md, .csv and .png.

The ablations stop after stage 1 (`train.stages.stage2.epochs=0`, in the suite): on this
split stage 2 rarely beats the stage-1 model (which then stays), and skipping it saves a
quarter of each run.
So this script adds one row the runner does not know: the full model (the paper's, with
L_cla) at the end of its stage 1 (its stage-2 epoch-0 row), the row to compare the ablations
with, written to DIR/ablations.md below the table. The posts have no images, so the image
ablations are listed as not run.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from mmkp.cli.benchmark import print_progress
from mmkp.evaluation.summary import mean_std
from mmkp.experiments.benchmark.experiment import BenchmarkOptions, run_benchmark
from mmkp.experiments.benchmark.suite import load_suite

ROOT = Path(__file__).resolve().parents[1]
METRICS = ("F1@1", "F1@3", "MAP@5")


def stage1_scores(run: Path) -> dict[str, float]:
    """Dev scores of the model stage 1 handed over (stage 2's epoch-0 row)."""
    first = (run / "stage2" / "metrics.jsonl").read_text().splitlines()[0]
    row = json.loads(first)
    return {metric: row[f"dev_{metric}"] for metric in METRICS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--jobs", type=int, default=2, help="runs side by side (2 cores: 2)")
    parser.add_argument("--no-train", action="store_true", help="only tabulate finished runs")
    args = parser.parse_args()
    options = BenchmarkOptions(
        out=args.out,
        data="real",
        seeds=tuple(args.seeds),
        workers=args.jobs,
        root=ROOT,
        train=not args.no_train,
    )
    result = run_benchmark(load_suite("table2"), options, on_progress=print_progress)
    full = next(row for row in result.table.rows if row.system.key == "full")
    seeds = [run.seed for run in full.result.runs]
    table = result.files[0].read_text(encoding="utf-8")
    if seeds:
        scores = [stage1_scores(args.out / "runs" / "full" / f"seed-{seed}") for seed in seeds]
        cells = [mean_std([s[metric] for s in scores]) for metric in METRICS]
        table += (
            f"\nThe full model at the end of stage 1 (its stage-2 epoch-0 row; the ablations "
            f"stop there), {len(seeds)} seeds: "
            + ", ".join(f"{m} {c}" for m, c in zip(METRICS, cells, strict=True))
            + "\n"
        )
    (args.out / "ablations.md").write_text(table, encoding="utf-8")
    print(table)


if __name__ == "__main__":
    main()

"""Table 2's image rows on generated posts with real images: each ablation of the noise
filter, several seeds, scores overall and per kind, the paired bootstrap against the full
model, and how well the filter localises (mmkp.experiments.localisation).

    .venv/bin/mmkp demo --out runs/demo       # generated data, prepared images, config.yaml
    .venv/bin/python benchmarks/image_ablations.py --demo runs/demo [--seeds 1 2 3] [--jobs 2]

Each variant trains with the demo's config (`runs/demo/config.yaml`, configs/synthetic.yaml,
L_itm from the demo's TRC-style pairs) by `mmkp train`, one torch thread per run and `--jobs`
runs side by side, into DEMO/ablations/<variant>-s<seed>/; a finished run is not retrained,
so the command resumes. The table goes to stdout and DEMO/ablations/table.md: F1@1 / F1@3 /
MAP@5 over all test posts, F1@1 per kind, mean ± std over seeds; the paired bootstrap
(`mmkp compare`'s, 1000 resamples) of each variant's seed-1 run against the full model's
seed-1 run on F1@1; and the localisation measures of the seed runs (mean ± std).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from mmkp.data.jsonl import read_posts
from mmkp.data.synthetic import KINDS
from mmkp.evaluation.metrics import post_scores
from mmkp.evaluation.prediction_files import read_predictions
from mmkp.evaluation.significance import paired_bootstrap
from mmkp.evaluation.summary import mean_std
from mmkp.experiments.kinds import ALL, score_by_kind
from mmkp.experiments.localisation import measure
from mmkp.features.store import FeatureStore
from mmkp.inference.predictor import Predictor
from mmkp.io import write_text_atomic

NO_GATE = "model.image_text_gate=none"
VARIANTS = {
    "full model": [],
    "paper's L_irtm (w/o region contrast)": ["model.region_contrast=false"],
    "w/o L_itm": ["model.use_itm_loss=false"],
    "w/o L_irtm": ["model.use_irtm_loss=false"],
    # The image-text gate of the demo's config reads s_c: the variants without s_c drop it too.
    "w/o image-text matching": ["model.image_text_matching=false", NO_GATE],
    "w/o region-text matching": ["model.region_text_matching=false"],
    "w/o noise filtering": ["model.noise_filter=false", NO_GATE],
    "text-only (no image branch)": ["model.use_image=false", NO_GATE],
    # Not Table 2: the copy form the package used before it followed the paper's (learned
    # lambda_c, label mass split over its words, a tanh layer before p_p).
    "former copy form": [
        "model.copy_lambda=null",
        "model.label_copy=split",
        "model.generator_hidden=true",
    ],
}
OVERALL = ("F1@1", "F1@3", "MAP@5")
LOCALISATION = (
    "pointing",
    "chance",
    "region_auc",
    "match_auc",
    "match_auc_named",
    "gate_related",
    "gate_unrelated",
)


def slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name).strip("-")


def train(config: Path, out: Path, overrides: list[str], seed: int) -> Path:
    """One `mmkp train` run (skipped when it finished before); returns its folder."""
    if (out / "test_predictions.jsonl").is_file():
        return out
    sets = [*overrides, f"train.seed={seed}", "train.threads=1"]
    command = [sys.executable, "-m", "mmkp", "train", "--config", str(config), "--out", str(out)]
    command += [arg for value in sets for arg in ("--set", value)]
    out.parent.mkdir(parents=True, exist_ok=True)
    with (out.parent / f"{out.name}.log").open("w") as log:
        subprocess.run(command, check=True, stdout=log, stderr=subprocess.STDOUT)
    return out


def localisation(run: Path, demo: Path, test: list) -> dict[str, float]:
    """The localisation measures of a run's model on the test posts (cached in the run)."""
    cached = run / "localisation.json"
    if not cached.is_file():
        predictor = Predictor.load(run / "model")
        grids = FeatureStore.open(demo / "prepared" / "features").get
        results = list(predictor.predict_many(test, grid_lookup=grids))
        cached.write_text(json.dumps(measure(results, test).to_dict()))
    return json.loads(cached.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--demo", type=Path, default=Path("runs/demo"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--variants", nargs="*", help="names of VARIANTS to run (default all)")
    args = parser.parse_args()
    config, out = args.demo / "config.yaml", args.demo / "ablations"
    variants = {k: v for k, v in VARIANTS.items() if not args.variants or k in args.variants}
    jobs = [(name, seed) for name in variants for seed in args.seeds]
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        runs = dict(
            zip(
                jobs,
                pool.map(
                    lambda job: train(
                        config, out / f"{slug(job[0])}-s{job[1]}", variants[job[0]], job[1]
                    ),
                    jobs,
                ),
                strict=True,
            )
        )
    test = read_posts(args.demo / "prepared" / "test.jsonl")
    texts = {key: read_predictions(run / "test_predictions.jsonl") for key, run in runs.items()}
    full = ("full model", args.seeds[0])
    lines = [
        "| variant | seeds | "
        + " | ".join(OVERALL)
        + " | "
        + " | ".join(f"F1@1 {k}" for k in KINDS)
        + " | Δ F1@1 vs full (p) | "
        + " | ".join(LOCALISATION)
        + " |",
        "|---|---:|" + "---:|" * (len(OVERALL) + len(KINDS) + 1 + len(LOCALISATION)),
    ]
    for name in variants:
        scored = [score_by_kind(texts[(name, s)], test) for s in args.seeds]
        cells = [mean_std([row[ALL][m] for row in scored]) for m in OVERALL]
        cells += [mean_std([row[kind]["F1@1"] for row in scored]) for kind in KINDS]
        if full in texts and name != "full model":
            ranked = {
                key: [p.keyphrases for p in texts[key]] for key in (full, (name, args.seeds[0]))
            }
            (f1,) = paired_bootstrap(
                post_scores(ranked[(name, args.seeds[0])], test),
                post_scores(ranked[full], test),
                metrics=("F1@1",),
            )
            cells.append(f"{f1.delta:+.2f} ({f1.p_value:.3f})")
        else:
            cells.append("-")
        located = [localisation(runs[(name, s)], args.demo, test) for s in args.seeds]
        cells += [mean_std([100 * row[key] for row in located]) for key in LOCALISATION]
        lines.append(f"| {name} | {len(args.seeds)} | " + " | ".join(cells) + " |")
        print(lines[-1], flush=True)
    table = "\n".join(lines) + "\n"
    write_text_atomic(out / "table.md", table)
    print(table)


if __name__ == "__main__":
    main()

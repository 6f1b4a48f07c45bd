"""What the image branch and the noise filter are worth on generated posts with real images.

    .venv/bin/mmkp demo --out runs/demo        # generated data, prepared images, config.yaml
    .venv/bin/python benchmarks/synthetic_model.py --demo runs/demo [--seeds 1 2 3]

Trains MM-MKP variants with the demo's config (`runs/demo/config.yaml`, the packaged
configs/synthetic.yaml) on the demo's prepared posts, once per seed, and scores each on the
test split: F1@1 / F1@3 / MAP@5 over all posts and F1@1 per planted kind (docs/synthetic.md),
mean ± std over seeds. The table goes to stdout and benchmarks/out/synthetic_model.md.

Variants:
- post text only: X_S alone (no OCR text, no entities, no image branch);
- image as text only: X_S + X_O + X_E, no image branch (`model.use_image=false`);
- w/o noise filtering: image branch, H_I unfiltered (`model.noise_filter=false`);
- full model;
- grid only (w/o noise filtering, full): X_S and the image branch, no OCR text or entities, so
  that the image reaches the model only through the grid, where the filter acts.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import torch

from mmkp.data.jsonl import read_posts
from mmkp.data.synthetic import KINDS
from mmkp.evaluation.prediction_files import read_predictions
from mmkp.evaluation.summary import mean_std
from mmkp.experiments.kinds import ALL, score_by_kind
from mmkp.io import write_text_atomic
from mmkp.training.config import load_config
from mmkp.training.pipeline import run_training

NO_IMAGE_TEXT = ["data.use_ocr=false", "data.use_entities=false"]
VARIANTS = {
    "post text only": ["model.use_image=false", *NO_IMAGE_TEXT],
    "image as text only (OCR + entities)": ["model.use_image=false"],
    "w/o noise filtering": ["model.noise_filter=false"],
    "full model": [],
    # The image reaching the model only as the grid: no text read from it.
    "grid only, w/o noise filtering": [*NO_IMAGE_TEXT, "model.noise_filter=false"],
    "grid only, full model": NO_IMAGE_TEXT,
}
OVERALL = ("F1@1", "F1@3", "MAP@5")


def scores_by_group(predictions_path: Path, test_path: Path) -> dict[str, float]:
    """Overall metrics and F1@1 per planted kind of one run's test predictions."""
    scores = score_by_kind(read_predictions(predictions_path), read_posts(test_path))
    row = {metric: scores[ALL][metric] for metric in OVERALL}
    # a kind the test split lacks has no score: NaN, so its cell shows it rather than failing
    return row | {kind: scores.get(kind, {}).get("F1@1", math.nan) for kind in KINDS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--demo", type=Path, default=Path("runs/demo"), help="a demo run folder")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config_path = args.demo / "config.yaml"
    test_path = args.demo / "prepared" / "test.jsonl"
    columns = [*OVERALL, *(f"F1@1 {kind}" for kind in KINDS)]
    lines = [
        f"| variant | {' | '.join(columns)} |",
        "|---|" + "---:|" * len(columns),
    ]
    for name, overrides in VARIANTS.items():
        rows = []
        for seed in args.seeds:
            slug = name.split(" (")[0].replace(",", "").replace(" ", "-").replace("/", "")
            out = args.demo / "variants" / f"{slug}-s{seed}"
            sets = [*overrides, f"train.seed={seed}", f"train.threads={args.threads}"]
            if not (out / "test_predictions.jsonl").is_file():
                run_training(load_config(config_path, sets), out)
            rows.append(scores_by_group(out / "test_predictions.jsonl", test_path))
        cells = [mean_std([row[key] for row in rows]) for key in (*OVERALL, *KINDS)]
        lines.append(f"| {name} | {' | '.join(cells)} |")
        print(lines[-1], flush=True)
    table = "\n".join(lines) + "\n"
    write_text_atomic(Path("benchmarks/out/synthetic_model.md"), table)
    print(table)


if __name__ == "__main__":
    main()

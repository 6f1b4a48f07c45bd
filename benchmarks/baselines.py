"""Non-neural baselines on the agreed real-data split, scored on dev; prints a markdown table.

    .venv/bin/python benchmarks/baselines.py [--shared ../shared] [--minilm] [--sweep]

Train = lines 1-4,770 of ../shared/data/cmkp/valid_ocr_kw.txt, dev = lines 4,771-5,370; both
are written under --out (never into the repository). Each baseline runs as `mmkp baseline NAME
--train train.txt --test dev.txt --out NAME.jsonl` does, and its written prediction file is
read back and scored with `mmkp.evaluation`.
`--sweep` also prints dev F1@1 / MAP@5 of the TF-IDF kNN for the neighbour counts its default
was chosen from.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from mmkp.data.formats import load_posts
from mmkp.evaluation.metrics import evaluate
from mmkp.evaluation.prediction_files import read_predictions, write_predictions
from mmkp.retrieval.registry import build_baseline

TRAIN_LINES = 4770
DEV_LINES = 600
COLUMNS = (
    "F1@1",
    "F1@3",
    "F1@5",
    "MAP@5",
    "present_F1@1",
    "present_F1@3",
    "absent_F1@1",
    "absent_F1@3",
)
SWEEP_K = (5, 10, 20, 40, 80)


def write_split(shared: Path, out: Path) -> tuple[Path, Path]:
    """The agreed split as two `<sep>` text files under `out`."""
    source = shared / "data" / "cmkp" / "valid_ocr_kw.txt"
    lines = source.read_text(encoding="utf-8").splitlines(keepends=True)
    if len(lines) != TRAIN_LINES + DEV_LINES:
        raise ValueError(f"{source}: expected {TRAIN_LINES + DEV_LINES} lines, found {len(lines)}")
    out.mkdir(parents=True, exist_ok=True)
    train, dev = out / "train.txt", out / "dev.txt"
    train.write_text("".join(lines[:TRAIN_LINES]), encoding="utf-8")
    dev.write_text("".join(lines[TRAIN_LINES:]), encoding="utf-8")
    return train, dev


def sweep(train: Path, dev: Path, names: list[str]) -> None:
    """Dev MAP@5 / F1@1 per neighbour count (how the registry's DEFAULT_K was chosen)."""
    train_posts, dev_posts = load_posts(train), load_posts(dev)
    for name in names:
        cells = []
        for k in SWEEP_K:
            preds = build_baseline(name, k=k).fit(train_posts).predict(dev_posts)
            scores = evaluate([p.keyphrases for p in preds], dev_posts).scores
            cells.append(f"k={k}: {scores['F1@1']:.2f} / {scores['MAP@5']:.2f}")
        print(f"{name} dev F1@1 / MAP@5: " + "; ".join(cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared"
    )
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/baselines"))
    parser.add_argument("--minilm", action="store_true", help="also run knn-minilm (MiniLM kNN)")
    parser.add_argument("--sweep", action="store_true", help="also sweep the kNN neighbour count")
    args = parser.parse_args()
    train, dev = write_split(args.shared, args.out)
    train_posts, dev_posts = load_posts(train), load_posts(dev)
    names = ["frequency", "knn"] + (["knn-minilm"] if args.minilm else [])
    print("| baseline | " + " | ".join(COLUMNS) + " | fit + predict |")
    print("|---|" + "---:|" * (len(COLUMNS) + 1))
    for name in names:
        pred = args.out / f"{name}.jsonl"
        start = time.perf_counter()
        model = build_baseline(name).fit(train_posts)
        write_predictions(pred, model.predict(dev_posts))
        seconds = time.perf_counter() - start
        result = evaluate([p.keyphrases for p in read_predictions(pred)], dev_posts)
        cells = " | ".join(f"{result.scores[c]:.2f}" for c in COLUMNS)
        print(f"| {name} | {cells} | {seconds:.1f} s |")
    if args.sweep:
        sweep(train, dev, ["knn"])


if __name__ == "__main__":
    main()

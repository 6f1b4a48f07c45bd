"""One retrieval baseline run of a benchmark, in its own process like every other run:

    python -m mmkp.experiments.benchmark.retrieval_job --baseline knn --config C \\
        --split dev --out PRED.jsonl [--set key=value ...]

Fits the baseline on the config's training split and writes its predictions for the given
split, and beside them `<split>_scores.json` (scores and seconds, as `mmkp train` writes).
`mmkp baseline` takes whole files; this reads the splits as training does (a range of lines
of one file, for the real posts), so every system of a table sees the same posts.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from mmkp.evaluation.metrics import evaluate
from mmkp.evaluation.prediction_files import write_predictions
from mmkp.io import write_json_atomic
from mmkp.retrieval.registry import BASELINES, build_baseline
from mmkp.training.config import load_config
from mmkp.training.data import load_split


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", required=True, choices=BASELINES)
    parser.add_argument("--config", required=True)
    parser.add_argument("--split", required=True, choices=("dev", "test"))
    parser.add_argument("--out", required=True)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args(argv)
    data = load_config(args.config, args.overrides).data
    split = getattr(data, args.split)
    if split is None:
        parser.error(f"{args.config} has no data.{args.split} split")
    posts = load_split(split)
    start = time.perf_counter()
    model = build_baseline(args.baseline).fit(load_split(data.train))
    fitted = time.perf_counter()
    predictions = list(model.predict(posts))
    timing = {"fit_seconds": fitted - start, "predict_seconds": time.perf_counter() - fitted}
    count = write_predictions(args.out, predictions)
    scores = evaluate([prediction.keyphrases for prediction in predictions], posts).to_dict()
    write_json_atomic(Path(args.out).parent / f"{args.split}_scores.json", scores | timing)
    print(f"{args.baseline}: {count} predictions for {args.split} in {args.out}")


if __name__ == "__main__":
    main()

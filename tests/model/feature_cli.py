"""What the BUTD and FLAVA CLI tests share: training a shipped config on a feature store
through `mmkp train`, then predicting through `mmkp predict` with the same store."""

from __future__ import annotations

import json
from pathlib import Path

from mmkp.cli.main import main
from mmkp.data.jsonl import read_posts
from mmkp.evaluation.prediction_files import read_predictions
from mmkp.features.store import FeatureStore
from mmkp.inference.predictor import PredictionResult, Predictor


def train_and_predict_on_features(
    config: Path, settings: list[str], tmp_path: Path, *, dev: Path, features: Path
) -> tuple[Path, list[PredictionResult]]:
    """Train `config` with `--set` `settings` (stage 1's loss must fall), predict `dev`
    through the CLI (its keyphrases must equal a fresh Predictor's); returns the model
    directory and the Predictor's results."""
    out = tmp_path / "run"
    args = ["train", "--config", str(config), "--out", str(out)]
    assert main([*args, *[a for s in settings for a in ("--set", s)]]) == 0
    rows = [json.loads(line) for line in (out / "stage1" / "metrics.jsonl").open()]
    assert rows[-1]["train_loss"] < rows[0]["train_loss"]

    model_dir, preds = out / "model", tmp_path / "preds.jsonl"
    args = ["predict", "--model", str(model_dir), "--input", str(dev), "--out", str(preds)]
    assert main([*args, "--features", str(features)]) == 0
    lookup = FeatureStore.open(features).get
    expected = list(Predictor.load(model_dir).predict_many(read_posts(dev), grid_lookup=lookup))
    assert [p.keyphrases for p in read_predictions(preds)] == [r.texts for r in expected]
    return model_dir, expected

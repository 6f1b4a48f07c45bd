"""`mmkp demo` runs end to end on a small generated set and prints one row per system."""

from __future__ import annotations

import json
from pathlib import Path

from mmkp.cli.main import main


def test_demo_small_run(tmp_path: Path, capsys):
    argv = ["demo", "--out", str(tmp_path), "--train", "60", "--dev", "6", "--test", "30"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "[1/2] generate data" in out and "[2/2] baselines" in out
    rows = {line.split()[0]: line for line in out.splitlines()[-2:]}
    assert set(rows) == {"frequency", "knn"}
    scores = json.loads((tmp_path / "scores.json").read_text())
    assert set(scores) == {"frequency", "knn"}
    assert set(scores["knn"]) == {"all", "text", "ocr", "visual", "noise"}
    # text keyphrases are in the text, so retrieval beats guessing the most frequent ones there
    assert scores["knn"]["text"]["F1@1"] > scores["frequency"]["text"]["F1@1"]
    assert (tmp_path / "predictions" / "knn.jsonl").read_text().count("\n") == 30
    assert len(list((tmp_path / "data" / "images").iterdir())) == 96

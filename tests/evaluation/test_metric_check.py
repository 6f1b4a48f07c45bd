"""The evaluator reproduces every number of the metric table in ../shared/README.md."""

import json
from pathlib import Path

import pytest

from mmkp.cli.main import main
from mmkp.evaluation.metrics import evaluate
from mmkp.evaluation.prediction_files import load_aligned

# ../shared/README.md, "metric_check_src.txt / metric_check_pred.txt" (percent, 3 decimals).
EXPECTED = {
    "P@1": 53.200,
    "R@1": 45.192,
    "F1@1": 48.870,
    "P@3": 23.633,
    "R@3": 56.467,
    "F1@3": 33.321,
    "P@5": 15.455,
    "R@5": 60.017,
    "F1@5": 24.580,
    "MAP@5": 53.174,
    "present_F1@1": 81.192,
    "present_F1@3": 78.385,
    "absent_F1@1": 28.574,
    "absent_F1@3": 22.221,
}


@pytest.fixture
def check_files(shared_dir: Path) -> tuple[Path, Path]:
    cmkp = shared_dir / "data" / "cmkp"
    return cmkp / "metric_check_pred.txt", cmkp / "metric_check_src.txt"


def test_reproduces_published_metric_table(check_files: tuple[Path, Path]) -> None:
    files = load_aligned(*check_files)
    result = evaluate(files.predictions, files.posts)
    assert result.num_posts == 1000
    assert result.num_present_posts == 472
    assert result.num_absent_posts == 629
    assert {k: round(result.scores[k], 3) for k in EXPECTED} == EXPECTED


def test_cli_json_reproduces_table(check_files: tuple[Path, Path], tmp_path: Path) -> None:
    pred, gold = check_files
    out = tmp_path / "scores.json"
    assert main(["evaluate", "--pred", str(pred), "--gold", str(gold), "--json", str(out)]) == 0
    saved = json.loads(out.read_text())
    assert saved["precision"] == "standard"
    assert {k: round(saved["scores"][k], 3) for k in EXPECTED} == EXPECTED

"""`mmkp evaluate` and `mmkp compare` end to end on small files."""

import json
from pathlib import Path

import pytest

from mmkp.cli.main import main
from mmkp.data.jsonl import write_posts
from mmkp.data.record import Post
from mmkp.evaluation.prediction_files import Prediction, write_predictions


@pytest.fixture
def gold(tmp_path: Path) -> Path:
    path = tmp_path / "gold.jsonl"
    write_posts(
        path,
        [
            Post(id="1", text="new running shoes", keyphrases=["run shoe"]),
            Post(id="2", text="hello world", keyphrases=["marathon"]),
        ],
    )
    return path


def test_evaluate_prints_table_and_writes_json(gold: Path, tmp_path: Path, capsys) -> None:
    pred = tmp_path / "pred.txt"
    pred.write_text("running shoes;nike\nberlin;marathon\n")
    out = tmp_path / "out" / "scores.json"
    assert main(["evaluate", "--pred", str(pred), "--gold", str(gold), "--json", str(out)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0] == "2 posts; precision convention standard: P@K = hits / min(K, #predictions)"
    assert table[2].split() == ["@1", "50.000", "50.000", "50.000"]
    saved = json.loads(out.read_text())
    assert (saved["num_present_posts"], saved["num_absent_posts"]) == (1, 1)
    assert saved["scores"]["P@3"] == 50.0
    assert saved["scores"]["MAP@5"] == 75.0


def test_evaluate_fixed_precision_and_jsonl_predictions_by_id(
    gold: Path, tmp_path: Path, capsys
) -> None:
    pred = tmp_path / "pred.jsonl"
    write_predictions(
        pred, [Prediction("2", ["marathon"], [0.0]), Prediction("1", ["x", "run shoe"])]
    )
    assert main(["evaluate", "--pred", str(pred), "--gold", str(gold), "--precision", "fixed"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert "fixed: P@K = hits / K" in table[0]
    assert table[3].split() == ["@3", "33.333", "100.000", "50.000"]


def test_evaluate_reports_misaligned_files_cleanly(gold: Path, tmp_path: Path, capsys) -> None:
    pred = tmp_path / "pred.txt"
    pred.write_text("one line only\n")
    assert main(["evaluate", "--pred", str(pred), "--gold", str(gold)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mmkp evaluate: error: ")
    assert f"{pred} has 1 prediction lines but {gold} has 2 posts" in err
    assert main(["evaluate", "--pred", str(tmp_path / "nope.txt"), "--gold", str(gold)]) == 2


def test_compare_prints_deltas_and_p_values(gold: Path, tmp_path: Path, capsys) -> None:
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("run shoe\nmarathon\n")
    b.write_text("x;run shoe\ny\n")
    argv = ["compare", str(a), str(b), "--gold", str(gold), "--resamples", "50", "--seed", "1"]
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[2].startswith("paired bootstrap, 50 resamples, seed 1")
    f1_at_1 = lines[4].split()
    assert f1_at_1[:4] == ["F1@1", "100.000", "0.000", "+100.000"]
    assert f1_at_1[-1] == f"{1 / 51:.4f}"

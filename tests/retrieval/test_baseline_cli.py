"""`mmkp baseline` round trip: posts in, prediction files out, read back by the evaluator."""

from __future__ import annotations

from pathlib import Path

from mmkp.cli.main import main
from mmkp.data.jsonl import write_posts
from mmkp.data.record import Post
from mmkp.evaluation.prediction_files import read_predictions


def _write(tmp_path: Path) -> tuple[Path, Path]:
    train = [
        Post("t1", "apple banana", keyphrases=["fruit", "snack"]),
        Post("t2", "apple cherry", keyphrases=["fruit"]),
        Post("t3", "dog cat", keyphrases=["pets"]),
    ]
    test = [Post("q1", "banana split"), Post("q2", "cat nap")]
    write_posts(tmp_path / "train.jsonl", train)
    write_posts(tmp_path / "test.jsonl", test)
    return tmp_path / "train.jsonl", tmp_path / "test.jsonl"


def test_knn_writes_jsonl_and_text_predictions(tmp_path: Path, capsys):
    train, test = _write(tmp_path)
    args = ["baseline", "knn", "--train", str(train), "--test", str(test), "--top-k", "2"]
    assert main([*args, "--out", str(tmp_path / "pred.jsonl")]) == 0
    assert "knn: fitted on 3 posts, wrote 2 predictions" in capsys.readouterr().out
    preds = read_predictions(tmp_path / "pred.jsonl")
    assert [(p.id, p.keyphrases) for p in preds] == [
        ("q1", ["fruit", "snack"]),
        ("q2", ["pets", "fruit"]),
    ]
    assert preds[1].scores[1] == 0.0  # filled from the frequency list
    assert main([*args, "--out", str(tmp_path / "pred.txt"), "--k", "1"]) == 0
    assert (tmp_path / "pred.txt").read_text() == "fruit;snack\npets;fruit\n"


def test_frequency_and_errors(tmp_path: Path, capsys):
    train, test = _write(tmp_path)
    out = tmp_path / "freq.txt"
    assert (
        main(
            ["baseline", "frequency", "--train", str(train), "--test", str(test), "--out", str(out)]
        )
        == 0
    )
    assert out.read_text() == "fruit;snack;pets\nfruit;snack;pets\n"
    missing = tmp_path / "nope.jsonl"
    assert (
        main(["baseline", "knn", "--train", str(missing), "--test", str(test), "--out", str(out)])
        == 2
    )
    assert f"{missing}: no such file" in capsys.readouterr().err
    assert (
        main(
            [
                "baseline",
                "knn",
                "--train",
                str(train),
                "--test",
                str(test),
                "--out",
                str(out),
                "--k",
                "0",
            ]
        )
        == 2
    )
    assert "k must be at least 1, got 0" in capsys.readouterr().err

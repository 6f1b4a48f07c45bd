"""`mmkp predict` end to end on a tiny random checkpoint: both file formats and --text."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mmkp.cli.main import main
from mmkp.data.jsonl import write_posts
from mmkp.data.record import Post
from mmkp.evaluation.prediction_files import read_predictions
from mmkp.features.store import FeatureStore, FeatureWriter
from mmkp.inference.predictor import Predictor

from .conftest import IMAGE_DIM

POSTS = [
    Post("p1", "so excited for the kca awards tonight", keyphrases=["kca"]),
    Post("p2", "rain again in london"),
    Post("p3", "new phone who dis"),
]


@pytest.fixture
def posts_file(tmp_path: Path) -> Path:
    path = tmp_path / "posts.jsonl"
    write_posts(path, POSTS)
    return path


def test_predict_file_writes_jsonl_with_scores_and_text_lines(checkpoint_dir, posts_file, tmp_path):
    expected = list(Predictor.load(checkpoint_dir).predict_many(POSTS))
    jsonl, text = tmp_path / "out" / "preds.jsonl", tmp_path / "preds.txt"
    for out in (jsonl, text):
        args = ["predict", "--model", str(checkpoint_dir), "--input", str(posts_file)]
        assert main([*args, "--out", str(out), "--batch-size", "2"]) == 0
    saved = read_predictions(jsonl)
    assert [p.id for p in saved] == ["p1", "p2", "p3"]
    assert [p.keyphrases for p in saved] == [r.texts for r in expected]
    assert [p.scores for p in saved] == [[kp.score for kp in r.keyphrases] for r in expected]
    assert text.read_text().splitlines() == [";".join(r.texts) for r in expected]


def test_decode_options_override_the_checkpoint(checkpoint_dir, posts_file, tmp_path):
    out = tmp_path / "preds.jsonl"
    args = ["predict", "--model", str(checkpoint_dir), "--input", str(posts_file)]
    assert main([*args, "--out", str(out), "--strategy", "greedy"]) == 0
    assert [len(p.keyphrases) for p in read_predictions(out)] == [1, 1, 1]
    assert main([*args, "--out", str(out), "--top-k", "2"]) == 0
    assert [len(p.keyphrases) for p in read_predictions(out)] == [2, 2, 2]
    assert main([*args, "--out", str(out), "--set", "decode.top_k=1", "--no-words-only"]) == 0
    assert [len(p.keyphrases) for p in read_predictions(out)] == [1, 1, 1]


def test_bad_decode_options_are_named(checkpoint_dir, posts_file, tmp_path, capsys):
    args = ["predict", "--model", str(checkpoint_dir), "--input", str(posts_file)]
    args += ["--out", str(tmp_path / "p.jsonl")]
    assert main([*args, "--set", "decode.beam=3"]) == 2
    assert "unknown key 'decode.beam'" in capsys.readouterr().err
    assert main([*args, "--penalty", "gnmt"]) == 2
    assert "unknown length penalty 'gnmt'" in capsys.readouterr().err
    assert main([*args, "--set", "top_k=3"]) == 2
    assert "expected decode.key=value" in capsys.readouterr().err


def test_predict_text_prints_ranked_keyphrases(checkpoint_dir, capsys):
    text = "So excited for the KCA awards tonight!"
    expected = Predictor.load(checkpoint_dir).predict(text)
    assert main(["predict", "--model", str(checkpoint_dir), "--text", text]) == 0
    lines = capsys.readouterr().out.splitlines()
    top = expected.keyphrases[0]
    assert lines[0] == f"1. {top.text}  ({top.score:.3f})"
    assert lines[len(expected.keyphrases)] == "input: so excited for the kca awards tonight !"
    assert main(["predict", "--model", str(checkpoint_dir), "--text", text, "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["keyphrases"] == expected.texts
    assert printed["match_score"] is None and printed["region_scores"] is None


def test_usage_errors_exit_with_code_2(checkpoint_dir, posts_file, tmp_path, capsys):
    model = ["predict", "--model", str(checkpoint_dir)]
    assert main([*model, "--input", str(posts_file)]) == 2
    assert "--input needs --out" in capsys.readouterr().err
    assert main([*model, "--input", str(posts_file), "--image", "a.jpg", "--out", "x.txt"]) == 2
    assert "--image goes with --text" in capsys.readouterr().err
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert main([*model, "--input", str(empty), "--out", str(tmp_path / "p.txt")]) == 2
    assert "no posts to predict" in capsys.readouterr().err
    assert main(["predict", "--model", str(tmp_path), "--text", "hi"]) == 2
    assert "not a checkpoint directory" in capsys.readouterr().err


def test_predict_file_reads_grids_from_a_feature_store(checkpoint_dir, tmp_path):
    posts = [Post("i1", "the kca awards", image="i1.jpg"), Post("i2", "rain in london")]
    path = tmp_path / "posts.jsonl"
    write_posts(path, posts)
    store = tmp_path / "features"
    grids = np.random.default_rng(0).normal(size=(1, 49, IMAGE_DIM)).astype(np.float16)
    FeatureWriter(store, backbone="efficientnet-lite0", dim=IMAGE_DIM).append(["i1"], grids)
    out = tmp_path / "preds.jsonl"
    args = ["predict", "--model", str(checkpoint_dir), "--input", str(path), "--out", str(out)]
    assert main([*args, "--features", str(store)]) == 0
    predictor = Predictor.load(checkpoint_dir)
    with_grid = list(predictor.predict_many(posts, grid_lookup=FeatureStore.open(store).get))
    assert [p.keyphrases for p in read_predictions(out)] == [r.texts for r in with_grid]
    assert with_grid[0].match_score is not None and with_grid[1].match_score is None


def test_predict_text_with_a_photo_prints_the_diagnostics(checkpoint_dir, tmp_path, capsys):
    from skimage import data  # sample photos shipped in the scikit-image wheel

    photo = tmp_path / "coffee.png"
    Image.fromarray(data.coffee()).save(photo)
    args = ["predict", "--model", str(checkpoint_dir), "--text", "morning", "--image", str(photo)]
    assert main(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("entities: ") for line in lines)
    assert any(line.startswith("image-text match s_c: ") for line in lines)
    grid_rows = lines[lines.index("region scores A (7x7 grid, top row first):") + 1 :]
    assert len(grid_rows) == 7 and all(len(row.split()) == 7 for row in grid_rows)


def test_a_repeated_id_is_predicted_once_with_a_warning_and_evaluate_accepts_the_output(
    checkpoint_dir, tmp_path, caplog
):
    path = tmp_path / "posts.jsonl"
    write_posts(path, [*POSTS, Post("p1", "the same id again", keyphrases=["kca"])])
    out = tmp_path / "preds.jsonl"
    args = ["predict", "--model", str(checkpoint_dir), "--input", str(path), "--out", str(out)]
    assert main(args) == 0
    assert [p.id for p in read_predictions(out)] == ["p1", "p2", "p3"]
    assert f"{path}:4: post id 'p1' repeated (first on line 1); kept the first" in caplog.text
    gold = tmp_path / "gold.jsonl"
    write_posts(gold, [Post(p.id, p.text, keyphrases=["kca"]) for p in POSTS] + [POSTS[0]])
    assert main(["evaluate", "--pred", str(out), "--gold", str(gold)]) == 0


def test_resume_continues_a_partial_file_and_skips_what_is_there(
    checkpoint_dir, posts_file, tmp_path
):
    out = tmp_path / "preds.jsonl"
    args = [
        "predict",
        "--model",
        str(checkpoint_dir),
        "--input",
        str(posts_file),
        "--out",
        str(out),
    ]
    assert main(args) == 0
    straight = out.read_text()
    first, rest = straight.split("\n", 1)
    (tmp_path / "preds.jsonl.partial").write_text(first + "\n" + rest[:10])  # torn by a crash
    out.unlink()
    assert main([*args, "--resume"]) == 0
    assert out.read_text() == straight
    assert not (tmp_path / "preds.jsonl.partial").exists()


def test_option_errors_are_exit_2(checkpoint_dir, posts_file, capsys):
    model = ["predict", "--model", str(checkpoint_dir)]
    assert main([*model, "--text", "hi", "--threads", "0"]) == 2
    assert "--threads must be at least 1, got 0" in capsys.readouterr().err
    assert main([*model, "--text", "hi", "--resume"]) == 2
    assert "--resume goes with --input" in capsys.readouterr().err
    assert main([*model, "--text", "hi", "--ray-batch-size", "64"]) == 2
    assert "--ray-batch-size go with --engine ray" in capsys.readouterr().err


def test_device_is_passed_to_the_predictor_and_a_bad_one_is_named(checkpoint_dir, capsys):
    model = ["predict", "--model", str(checkpoint_dir), "--text", "rain again in london"]
    assert main([*model, "--json"]) == 0
    default = json.loads(capsys.readouterr().out)
    assert main([*model, "--json", "--device", "cpu"]) == 0
    assert json.loads(capsys.readouterr().out) == default
    assert main([*model, "--device", "gpu"]) == 2
    assert "device must be one of auto | cpu | cuda | cuda:N, got 'gpu'" in capsys.readouterr().err
    explain = ["explain", "--model", str(checkpoint_dir), "--text", "hi", "--out", "case.png"]
    assert main([*explain, "--device", "tpu"]) == 2  # refused before anything is drawn
    assert "got 'tpu'" in capsys.readouterr().err


def test_minilm_precision_is_set_for_the_run_and_a_bad_one_is_refused(checkpoint_dir, capsys):
    from mmkp.features.sentence_encoder import shared_encoder

    model = ["predict", "--model", str(checkpoint_dir), "--text", "rain again in london"]
    assert main([*model, "--json"]) == 0
    default = json.loads(capsys.readouterr().out)
    encoder = shared_encoder()
    try:
        # this model embeds nothing with MiniLM: the same keyphrases, the encoder switched
        assert main([*model, "--json", "--minilm-precision", "bf16"]) == 0
        assert json.loads(capsys.readouterr().out) == default
        assert encoder.precision == "bf16"
    finally:
        encoder.set_precision("fp32")
    with pytest.raises(SystemExit) as refused:  # argparse's usage error
        main([*model, "--minilm-precision", "fp16"])
    assert refused.value.code == 2
    assert "invalid choice: 'fp16' (choose from 'fp32', 'bf16')" in capsys.readouterr().err

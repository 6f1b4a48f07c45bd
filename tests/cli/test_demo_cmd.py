"""`mmkp demo` runs end to end on a small generated set and prints one row per system."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mmkp.cli.main import main
from mmkp.data.record import Post
from mmkp.experiments.demo import DemoState, repeated_texts_note
from mmkp.features.store import FeatureStore


@pytest.mark.slow  # OCR over ~100 images and both training stages: a minute or more
def test_demo_small_run(tmp_path: Path, capsys):
    argv = ["demo", "--out", str(tmp_path), "--train", "60", "--dev", "6", "--test", "30"]
    argv += ["--itm", "10"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    for step in ("[1/4] generate data", "[2/4] read images", "[3/4] baselines", "[4/4] train"):
        assert step in out
    # one short line per epoch on the terminal, the full rows in the run's log
    assert "  stage1 epoch 1: train loss " in out and "  stage2 epoch 1: train loss " in out
    assert "train_loss=" not in out and "INFO" not in capsys.readouterr().err
    log = (tmp_path / "demo.log").read_text()
    assert "stage1 epoch 1: train_loss=" in log and f"log: {tmp_path / 'demo.log'} (" in out
    rows = {line.split()[0]: line for line in out.splitlines()[-3:]}
    assert set(rows) == {"frequency", "knn", "mm-mkp"}
    scores = json.loads((tmp_path / "scores.json").read_text())
    assert set(scores) == {"frequency", "knn", "mm-mkp"}
    assert set(scores["mm-mkp"]) == {"all", "text", "ocr", "visual", "noise"}
    # text keyphrases are in the text, so retrieval beats guessing the most frequent ones there
    assert scores["knn"]["text"]["F1@1"] > scores["frequency"]["text"]["F1@1"]
    assert (tmp_path / "predictions" / "mm-mkp.jsonl").read_text().count("\n") == 30
    assert len(list((tmp_path / "data" / "images").iterdir())) == 96 + 10
    itm = [json.loads(line) for line in (tmp_path / "prepared" / "itm.jsonl").open()]
    assert len(itm) == 10 and all(pair["keyphrases"] == [] for pair in itm)
    # the image pipeline filled OCR text and entities and stored a grid for every post
    prepared = [json.loads(line) for line in (tmp_path / "prepared" / "test.jsonl").open()]
    assert len(prepared) == 30 and any(post["ocr"] for post in prepared)
    assert any(post["entities"] for post in prepared)
    store = FeatureStore.open(tmp_path / "prepared" / "features")
    assert all(post["id"] in store for post in prepared)
    assert (tmp_path / "mm-mkp" / "model" / "model.safetensors").is_file()
    # the copied config trains a variant on the same data without edits
    assert (tmp_path / "config.yaml").is_file()


def test_the_note_says_which_repeated_texts_are_intended(tmp_path: Path) -> None:
    def post(id_: str, text: str, kind: str) -> Post:
        return Post(id_, text, keyphrases=["kp"], extra={"planted": {"kind": kind}})

    state = DemoState(tmp_path, 0, (2, 2, 1))
    state.train = [post("t1", "Look at this!", "ocr"), post("t2", "rain in #london", "text")]
    state.dev = [post("d1", "look  at this!", "visual"), post("d2", "new post", "text")]
    state.test = [post("e1", "Rain in #London", "text")]
    assert repeated_texts_note(state) == (
        "1 of 3 dev/test posts repeat a training post's text, as intended (ocr and visual "
        "posts name only their domain, their keyphrase is in the image); not intended: e1 (a "
        "training post's text and keyphrase)"
    )
    state.test = []
    assert repeated_texts_note(state).startswith("1 of 2 dev/test posts")
    state.dev = state.dev[1:]
    assert repeated_texts_note(state) is None

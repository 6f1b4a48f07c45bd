"""Train the tiny config end to end once, then check what it wrote and what it learned."""

import json
from pathlib import Path

import pytest
import torch
from mmkp.decoding.generate import generate_keyphrases
from safetensors.torch import load_file

from mmkp.config import ExperimentConfig, load_config
from mmkp.data.batching import iter_batches, make_examples
from mmkp.training.checkpoint import load_checkpoint, read_trainer_state, save_checkpoint
from mmkp.training.data import load_split
from mmkp.training.pipeline import TrainingRun, run_training

from .conftest import TINY

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> TrainingRun:
    return run_training(load_config(TINY), tmp_path_factory.mktemp("tiny"))


def test_training_loss_falls_in_both_stages(run):
    for stage, epochs in (("stage1", 12), ("stage2", 6)):
        losses = [row["train_loss"] for row in run.history[stage]]
        assert len(losses) == epochs
        assert losses[-1] < 0.8 * losses[0], (stage, losses)
    stage1 = run.history["stage1"][0]
    assert {"train_cla", "dev_cla", "dev_F1@1", "train_pairs_per_s"} <= stage1.keys()
    assert "train_gen" in run.history["stage2"][0]


def test_run_writes_records_checkpoints_and_scores(run):
    out = run.out_dir
    for stage, epochs in (("stage1", 12), ("stage2", 6)):
        rows = (out / stage / "metrics.jsonl").read_text().splitlines()
        assert [json.loads(r)["epoch"] for r in rows] == list(range(1, epochs + 1))
        assert (out / stage / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        for kind in ("best", "last"):
            assert sorted(p.name for p in (out / stage / kind).iterdir()) == [
                "config.json",
                "labels.json",
                "model.safetensors",
                "trainer_state.json",
                "trainer_state.safetensors",
                "vocab.json",
            ]
        assert read_trainer_state(out / stage / "last").finished
    assert sorted(p.name for p in run.model_dir.iterdir()) == [
        "config.json",
        "labels.json",
        "model.safetensors",
        "vocab.json",
    ]
    predictions = (out / "dev_predictions.jsonl").read_text().splitlines()
    assert [json.loads(p)["id"] for p in predictions] == [f"d0{i}" for i in range(1, 7)]
    scores = json.loads((out / "dev_scores.json").read_text())["scores"]
    assert scores["F1@1"] == run.scores["dev"].scores["F1@1"]


def test_stage2_trains_only_what_stage1_did_not(run):
    frozen = set(read_trainer_state(run.out_dir / "stage1" / "best").trained_parameters)
    before = load_file(str(run.out_dir / "stage1" / "best" / "model.safetensors"))
    after = load_file(str(run.model_dir / "model.safetensors"))
    assert frozen
    changed = {name for name in before if not torch.equal(before[name], after[name])}
    assert changed
    assert not changed & frozen


def predict(checkpoint_dir: Path, config: ExperimentConfig) -> list[list[tuple[str, float]]]:
    checkpoint = load_checkpoint(checkpoint_dir)
    posts = load_split(config.data.dev)
    examples = make_examples(posts, checkpoint.vocab, checkpoint.labels, one2one=False)
    out = []
    for batch in iter_batches(examples, 4, shuffle=False, seed=0):
        rows = generate_keyphrases(checkpoint.model, batch, checkpoint.vocab, beam_size=3)
        out += [[(kp.text, kp.score) for kp in row] for row in rows]
    return out


def test_save_load_round_trip_gives_identical_predictions(run, tmp_path):
    config = load_config(TINY)
    checkpoint = load_checkpoint(run.model_dir)
    copy = save_checkpoint(
        tmp_path / "copy",
        model=checkpoint.model,
        vocab=checkpoint.vocab,
        labels=checkpoint.labels,
        config=checkpoint.config,
    )
    assert checkpoint.config == config
    original, reloaded = predict(run.model_dir, config), predict(copy, config)
    assert len(original) == 6 and all(original)
    assert reloaded == original

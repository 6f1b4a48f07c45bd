"""`train.stages`: the list form, the older two-field form it replaces, `--set` into the list,
and schedules of one and three stages."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mmkp.config_loader import ConfigError
from mmkp.training.config import load_config
from mmkp.training.pipeline import run_training

from .conftest import TINY

# configs/tiny.yaml's schedule as the older form wrote it (no terms, trainable or warm start:
# the old fields' defaults)
OLD_FORM = """\
  stage1: {epochs: 12, batch_size: 4, lr: 0.01, monitor: F1@1, patience: 12}
  stage2: {epochs: 6, batch_size: 4, lr: 0.01, monitor: loss, patience: 6}
"""
SHORT = ["train.stages.0.epochs=2", "train.stages.stage2.epochs=1"]


def old_form_tiny(tmp_path: Path) -> Path:
    """configs/tiny.yaml with its `stages:` list written as `stage1:` / `stage2:`."""
    text = TINY.read_text(encoding="utf-8")
    start = text.index("  stages:\n")
    end = text.index("decode:")
    path = tmp_path / "tiny-old.yaml"
    data_dir = TINY.parents[1] / "tests" / "training" / "data"
    text = text[:start] + OLD_FORM + text[end:]
    path.write_text(text.replace("../tests/training/data", str(data_dir)), encoding="utf-8")
    return path


def weights(run_dir: Path) -> bytes:
    return (run_dir / "model" / "model.safetensors").read_bytes()


def test_the_old_form_reads_as_the_same_stages(tmp_path):
    old, new = load_config(old_form_tiny(tmp_path)), load_config(TINY)
    assert old.to_dict()["train"] == new.to_dict()["train"]
    stage1, stage2 = new.train.stages
    assert (stage1.name, stage1.warm_start, stage1.trainable) == ("stage1", False, None)
    assert (stage2.name, stage2.warm_start, stage2.terms) == ("stage2", True, ("gen",))
    assert stage2.trainable == ("decoder", "generator")  # `default`: MM-MKP's fine-tuning


def test_old_overrides_reach_the_stages_by_name_and_index():
    config = load_config(TINY, ["train.stage2.lr=0.5", "train.stages.0.epochs=3"])
    assert (config.train.stages[1].lr, config.train.stages[0].epochs) == (0.5, 3)
    config = load_config(TINY, ["train.stages.stage1.monitor=loss"])
    assert config.train.stage("stage1").monitor == "loss"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["train.stages.2.lr=1"], r"train\.stages has no item '2' \(indices 0-1"),
        (["train.stages=[{epochs: 1}]", "train.stage2.lr=1"], r"no item 'stage2'.*\['stage1'\]"),
        (["train.stages.1.warm_start=false", "train.stages.0.warm_start=true"], r"stages\[0\]"),
        (["train.stages.1.name=stage1"], r"stages\[1\]\.name 'stage1' is also stages\[0\]'s"),
        (["train.stages.1.terms=[gen, kl]"], r"train\.stages\[1\]\.terms\[1\] must be one of"),
        (["train.stages.0.name=a/b"], r"train\.stages\[0\]: name must be letters"),
        (["train.stages=[]"], r"stages must list at least one stage"),
        (["train.device=cpu", "train.precision=bf16"], r"precision bf16 needs a CUDA device"),
    ],
)
def test_stage_errors_name_the_stage(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config(TINY, overrides)


def test_a_file_error_names_the_list_item(tmp_path):
    text = yaml.safe_load(TINY.read_text(encoding="utf-8"))
    text["train"]["stages"][1]["epoch"] = 3
    text["data"] = {"train": str(TINY), "dev": str(TINY)}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(text), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad\.yaml: unknown key 'train\.stages\[1\]\.epoch'"):
        load_config(path)
    text["train"]["stage1"] = {"epochs": 1}
    path.write_text(yaml.safe_dump(text), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"train\.stages or train\.stage1/stage2"):
        load_config(path)


def test_a_stage_training_modules_the_model_lacks_is_named(tmp_path, one_thread):
    config = load_config(TINY, [*SHORT, "train.stages.1.trainable=[decoder, nowhere]"])
    with pytest.raises(ValueError, match=r"train\.stages\[1\]\.trainable names \['nowhere'\]"):
        run_training(config, tmp_path / "run")


@pytest.mark.slow
def test_old_and_new_forms_train_the_same_weights(tmp_path, one_thread):
    old = run_training(load_config(old_form_tiny(tmp_path), SHORT), tmp_path / "old")
    new = run_training(load_config(TINY, SHORT), tmp_path / "new")
    assert weights(old.out_dir) == weights(new.out_dir)
    assert sorted(new.history) == ["stage1", "stage2"]


@pytest.mark.slow
def test_one_stage_exports_what_a_second_stage_of_no_epochs_kept(tmp_path, one_thread):
    """A single-stage baseline (configs/baselines) exports the weights its old dummy
    `stage2: {epochs: 0}` did."""
    stage = "{epochs: 2, batch_size: 4, lr: 0.01, monitor: F1@1, patience: 12}"
    one = run_training(load_config(TINY, [f"train.stages=[{stage}]"]), tmp_path / "one")
    assert list(one.history) == ["stage1"] and not (one.out_dir / "stage2").exists()
    two = run_training(
        load_config(TINY, ["train.stages.0.epochs=2", "train.stages.1.epochs=0"]), tmp_path / "two"
    )
    assert weights(one.out_dir) == weights(two.out_dir)
    assert one.scores["dev"].to_dict() == two.scores["dev"].to_dict()


@pytest.mark.slow
def test_three_stages_train_in_order_and_export_the_last_best(tmp_path, one_thread):
    stages = (
        "train.stages=[{name: classify, epochs: 2, terms: [cla], batch_size: 4, lr: 0.01},"
        " {name: generate, epochs: 1, terms: [gen], batch_size: 4, lr: 0.01,"
        " trainable: default},"
        " {name: joint, epochs: 1, terms: [cla, gen], batch_size: 4, lr: 0.001}]"
    )
    run = run_training(load_config(TINY, [stages]), tmp_path / "run")
    assert list(run.history) == ["classify", "generate", "joint"]
    assert [row["epoch"] for row in run.history["joint"]] == [0, 1]  # warm start: epoch 0
    for name in run.history:
        assert (run.out_dir / name / "best" / "model.safetensors").is_file()
    assert (
        weights(run.out_dir) == (run.out_dir / "joint" / "best" / "model.safetensors").read_bytes()
    )
    assert run.scores["dev"].num_posts == 6

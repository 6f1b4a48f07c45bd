import json

import pytest

from mmkp.cli.main import main

from .conftest import TINY


@pytest.mark.slow
def test_mmkp_train_runs_both_stages_and_resume_skips_finished_ones(tmp_path, capsys):
    args = ["train", "--config", str(TINY), "--out", str(tmp_path), "--set"]
    assert main([*args, "train.stage1.epochs=2", "--set", "train.stage2.epochs=1"]) == 0
    out = capsys.readouterr().out
    assert "stage1: 2 epochs" in out and "stage2: 1 epochs" in out
    assert f"model: {tmp_path / 'model'}" in out
    assert json.loads((tmp_path / "config.json").read_text())["train"]["stages"][1]["epochs"] == 1

    # More stage-2 epochs on resume: stage 1 is finished and kept, stage 2 continues.
    resumed = [*args, "train.stage1.epochs=2", "--set", "train.stage2.epochs=2", "--resume"]
    assert main(resumed) == 0
    assert "stage1: 2 epochs" in capsys.readouterr().out
    rows = (tmp_path / "stage2" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(r)["epoch"] for r in rows] == [0, 1]  # stage 2 had finished too


def test_bad_override_is_a_clean_error(tmp_path, capsys):
    argv = ["train", "--config", str(TINY), "--out", str(tmp_path), "--set", "train.stage9.x=1"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "mmkp train: error: --set: unknown key 'train.stage9.x'" in err
    assert not (tmp_path / "config.json").exists()


def test_device_is_a_train_device_override(tmp_path, capsys):
    argv = ["train", "--config", str(TINY), "--out", str(tmp_path), "--device", "gpu"]
    assert main(argv) == 2
    assert "train: device must be one of auto | cpu | cuda | cuda:N, got 'gpu'" in (
        capsys.readouterr().err
    )
    assert not (tmp_path / "config.json").exists()


@pytest.mark.slow
def test_lr_decay_halves_the_rate_after_each_epoch_without_improvement(tmp_path, one_thread):
    from mmkp.training.config import load_config
    from mmkp.training.pipeline import run_training

    config = load_config(
        TINY,
        [
            "train.stage1.lr_decay=0.5",
            "train.stage1.monitor=loss",
            "train.stage1.lr=0.05",  # large enough for the dev loss to turn after a few epochs
            "train.stage1.epochs=8",
            "train.stage1.patience=8",
            "train.stage2.epochs=0",
        ],
    )
    run = run_training(config, tmp_path / "run")
    rows = [row for row in run.history["stage1"] if "train_loss" in row]
    assert rows[-1]["lr"] < 0.05  # it did decay
    best = float("inf")
    lr = 0.05
    for row in rows:
        if row["dev_loss"] < best:
            best = row["dev_loss"]
        else:
            lr *= 0.5
        assert row["lr"] == pytest.approx(lr)


@pytest.mark.slow
def test_the_cli_and_the_library_train_the_same_model_bit_for_bit(tmp_path):
    """Same config, seed and thread count: the same weights whichever way a run is launched
    (docs/training.md, "Reproducibility")."""
    import subprocess
    import sys

    from safetensors.torch import load_file

    from mmkp.training.config import load_config
    from mmkp.training.pipeline import run_training

    settings = ["train.stage1.epochs=2", "train.stage2.epochs=1"]
    library = run_training(load_config(TINY, settings), tmp_path / "library").model_dir
    command = [sys.executable, "-m", "mmkp", "train", "--config", str(TINY)]
    command += ["--out", str(tmp_path / "cli"), *[a for s in settings for a in ("--set", s)]]
    subprocess.run(command, check=True, capture_output=True)
    a = load_file(str(library / "model.safetensors"))
    b = load_file(str(tmp_path / "cli" / "model" / "model.safetensors"))
    assert a.keys() == b.keys() and all(a[k].equal(b[k]) for k in a)

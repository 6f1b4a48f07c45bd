"""An interrupted run, resumed, ends exactly where an uninterrupted run ends."""

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from mmkp.training.pipeline import run_training
from mmkp.training.state import read_trainer_state

from .conftest import TINY


class Interrupted(Exception):
    pass


def metrics(run: Path, stage: str) -> list[dict]:
    rows = [json.loads(line) for line in (run / stage / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in row.items() if not k.endswith(("per_s", "seconds"))} for row in rows]


@pytest.mark.slow
def test_resume_after_interruptions_matches_an_uninterrupted_run(tiny_config, tmp_path):
    straight = run_training(tiny_config, tmp_path / "straight")

    stops = {("stage1", 2), ("stage2", 1)}
    seen: list[tuple[str, int]] = []

    def interrupt(stage: str, epoch: int) -> None:
        seen.append((stage, epoch))
        if (stage, epoch) in stops:
            stops.discard((stage, epoch))
            raise Interrupted

    out = tmp_path / "interrupted"
    with pytest.raises(Interrupted):
        run_training(tiny_config, out, on_epoch_end=interrupt)
    with pytest.raises(Interrupted):
        run_training(tiny_config, out, resume=True, on_epoch_end=interrupt)
    resumed = run_training(tiny_config, out, resume=True, on_epoch_end=interrupt)

    epochs1, epochs2 = (
        tiny_config.train.stage("stage1").epochs,
        tiny_config.train.stage("stage2").epochs,
    )
    expected = [("stage1", e) for e in range(1, epochs1 + 1)]
    expected += [("stage2", e) for e in range(1, epochs2 + 1)]
    assert seen == expected  # each epoch ran exactly once, resumes continued at the next one
    for stage in ("stage1", "stage2"):
        assert metrics(out, stage) == metrics(tmp_path / "straight", stage)
    a = load_file(str(straight.model_dir / "model.safetensors"))
    b = load_file(str(resumed.model_dir / "model.safetensors"))
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert resumed.scores["dev"].scores == straight.scores["dev"].scores


def test_an_existing_run_is_not_overwritten_without_resume(tiny_config, tmp_path):
    (tmp_path / "stage1" / "last").mkdir(parents=True)
    with pytest.raises(ValueError, match="already exists: pass --resume"):
        run_training(tiny_config, tmp_path)


KILL_MID_EPOCH = """
import os, signal, sys
from mmkp.training import recipe
from mmkp.training.config import load_config
from mmkp.training.pipeline import run_training

real_epoch, epochs = recipe.train_epoch, []


def killed_in_epoch_3(model, batches, *args, **kwargs):
    # The real epoch loop; the process is killed (SIGKILL: no cleanup at all) after two
    # batches of stage 1's third epoch, as a power cut or the OOM killer would.
    epochs.append(1)

    def then_killed():
        for number, batch in enumerate(batches):
            if len(epochs) == 3 and number == 2:
                os.kill(os.getpid(), signal.SIGKILL)
            yield batch

    return real_epoch(model, then_killed(), *args, **kwargs)


recipe.train_epoch = killed_in_epoch_3
run_training(load_config(sys.argv[1]), sys.argv[2])
"""


def _same_model(a: Path, b: Path) -> bool:
    first, second = load_file(str(a / "model.safetensors")), load_file(str(b / "model.safetensors"))
    return first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)


@pytest.mark.slow
def test_a_run_killed_mid_epoch_resumes_to_the_uninterrupted_result(tiny_config, tmp_path):
    straight = run_training(tiny_config, tmp_path / "straight")
    out = tmp_path / "killed"
    done = subprocess.run([sys.executable, "-c", KILL_MID_EPOCH, str(TINY), str(out)])
    assert done.returncode == -signal.SIGKILL
    assert read_trainer_state(out / "stage1" / "last").epoch == 2  # epoch 3 was lost
    resumed = run_training(tiny_config, out, resume=True)
    for stage in ("stage1", "stage2"):
        assert metrics(out, stage) == metrics(tmp_path / "straight", stage)
    assert _same_model(straight.model_dir, resumed.model_dir)


def test_a_save_killed_between_its_two_renames_is_put_back(tiny_config, tmp_path):
    """What a kill inside `atomic_directory` leaves: the old checkpoint moved aside, the new
    one not yet in place. Resuming puts the old one back instead of starting over."""
    stops = {("stage1", 1)}

    def interrupt(stage: str, epoch: int) -> None:
        if (stage, epoch) in stops:
            stops.clear()
            raise Interrupted

    with pytest.raises(Interrupted):
        run_training(tiny_config, tmp_path, on_epoch_end=interrupt)
    last = tmp_path / "stage1" / "last"
    last.rename(last.with_name(".last.old"))
    assert read_trainer_state(last).epoch == 1
    assert not last.with_name(".last.old").exists()


@pytest.mark.slow
def test_a_full_disk_stops_with_one_line_and_keeps_the_last_good_checkpoint(tiny_config, tmp_path):
    stops = {("stage1", 3)}

    def interrupt(stage: str, epoch: int) -> None:
        if (stage, epoch) in stops:
            stops.clear()
            raise Interrupted

    out = tmp_path / "run"
    with pytest.raises(Interrupted):
        run_training(tiny_config, out, on_epoch_end=interrupt)
    last = out / "stage1" / "last"
    before = tmp_path / "before"
    shutil.copytree(last, before)
    limit = (last / "model.safetensors").stat().st_size // 2  # the next checkpoint cannot fit
    script = (
        "import resource, signal\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"  # a write fails (EFBIG), as on ENOSPC
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))\n"
        "from mmkp.cli.main import main\n"
        f"raise SystemExit(main(['train', '--config', {str(TINY)!r}, '--out', {str(out)!r},"
        " '--resume']))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    line = done.stderr.strip().splitlines()[-1]
    assert line.startswith(f"mmkp train: error: {out / 'stage1'}/"), line
    assert "could not write the checkpoint" in line and "File too large" in line
    assert "the previous checkpoint is intact" in line and "free space and rerun" in line
    assert read_trainer_state(last).epoch == 3 and _same_model(last, before)
    assert not [p.name for p in (out / "stage1").iterdir() if p.name.startswith(".")]
    resumed = run_training(tiny_config, out, resume=True)  # space again: it goes on
    assert read_trainer_state(out / "stage1" / "last").finished
    assert resumed.model_dir.is_dir()

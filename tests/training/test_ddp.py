"""`torchrun --nproc-per-node 2 -m mmkp train`: two processes on gloo (loopback), tiny data.

The DDP run takes the same global batches as one process (each rank half of every batch's
rows, its loss weighted by its share), with dropout off so the two runs differ only in the
order floating-point sums are taken: losses agree to TOLERANCE (relative). The sharded dev
evaluation equals the single process's exactly (same batches, predictions gathered).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from mmkp.training.config import load_config
from mmkp.training.pipeline import run_training

from .conftest import TINY
from .ddp_dev_eval import dev_evaluation

pytestmark = pytest.mark.slow

TOLERANCE = 1e-5  # relative: float32 sums in another order over 5 epochs
SETTINGS = ["train.stages.stage1.epochs=3", "train.stages.stage2.epochs=2", "model.dropout=0.0"]
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2"]
ENV = os.environ | {"OMP_NUM_THREADS": "1"}


def torchrun_train(out: Path, *extra: str) -> list[str]:
    logs = out.with_name(f"{out.name}-logs")  # each rank's stdout/stderr in its own files
    sets = [arg for setting in SETTINGS for arg in ("--set", setting)]
    return [
        *TORCHRUN,
        f"--log-dir={logs}",
        "--redirects=3",
        "-m",
        "mmkp",
        "train",
        "--config",
        str(TINY),
        "--out",
        str(out),
        *sets,
        *extra,
    ]


def run(command: list[str]) -> None:
    done = subprocess.run(command, env=ENV, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def metrics(out: Path, stage: str) -> list[dict]:
    lines = (out / stage / "metrics.jsonl").read_text().splitlines()
    rows = [json.loads(line) for line in lines]
    return [{k: v for k, v in row.items() if not k.endswith(("per_s", "seconds"))} for row in rows]


def files(out: Path) -> list[str]:
    return sorted(str(p.relative_to(out)) for p in out.rglob("*"))


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[Path, Path]:
    """(single process, DDP on 2 processes) of the same config."""
    root = tmp_path_factory.mktemp("ddp")
    single = root / "single"
    run_training(load_config(TINY, SETTINGS), single)
    run(torchrun_train(root / "ddp"))
    return single, root / "ddp"


def test_ddp_losses_equal_a_single_process_with_the_same_global_batch(runs):
    single, ddp = runs
    for stage in ("stage1", "stage2"):
        one, two = metrics(single, stage), metrics(ddp, stage)
        assert [row.keys() for row in one] == [row.keys() for row in two]
        for a, b in zip(one, two, strict=True):
            for key in (k for k in a if k.endswith("loss") or k.startswith(("train_", "dev_"))):
                assert b[key] == pytest.approx(a[key], rel=TOLERANCE), (stage, a["epoch"], key)
            assert b.get("train_pairs") == a.get("train_pairs")  # every pair, counted once


def test_only_rank_0_writes(runs):
    single, ddp = runs
    assert files(ddp) == files(single)
    logs = ddp.with_name("ddp-logs")
    (rank0,) = logs.rglob("0/stderr.log")
    (rank1,) = logs.rglob("1/stderr.log")
    assert "stage2 epoch 2:" in rank0.read_text()
    assert "mmkp" not in rank1.read_text()  # no log line, no result table
    (out1,) = logs.rglob("1/stdout.log")
    assert out1.read_text() == ""


def test_sharded_dev_evaluation_equals_the_unsharded_one(tmp_path):
    script = Path(__file__).with_name("ddp_dev_eval.py")
    out = tmp_path / "sharded.json"
    # eval_batch_size 2: the 6 dev posts make 3 batches, dealt 2 + 1 to the ranks
    sets = ["train.eval_batch_size=2"]
    run([*TORCHRUN, str(script), str(TINY), str(out), *sets])
    single = dev_evaluation(str(TINY), tmp_path / "single", sets)
    sharded = json.loads(out.read_text())
    assert sharded["ranked"] == single["ranked"]
    metric_keys = [k for k in single["row"] if "@" in k]
    assert metric_keys
    assert {k: sharded["row"][k] for k in metric_keys} == {k: single["row"][k] for k in metric_keys}
    assert sharded["row"]["dev_loss"] == pytest.approx(single["row"]["dev_loss"], rel=1e-12)


def test_a_killed_ddp_run_resumes_to_the_uninterrupted_model(runs, tmp_path):
    _, straight = runs
    out = tmp_path / "killed"
    job = subprocess.Popen(
        torchrun_train(out), env=ENV, start_new_session=True, stdout=subprocess.DEVNULL
    )
    metrics_file = out / "stage1" / "metrics.jsonl"
    deadline = time.monotonic() + 240
    while not (metrics_file.is_file() and metrics_file.read_text().strip()):
        assert job.poll() is None and time.monotonic() < deadline, "no epoch finished"
        time.sleep(0.02)
    os.killpg(job.pid, signal.SIGKILL)  # the agent and both ranks, mid-epoch 2
    job.wait()
    assert not (out / "model").exists()

    run(torchrun_train(out, "--resume"))
    for stage in ("stage1", "stage2"):
        assert metrics(out, stage) == metrics(straight, stage)
    a = load_file(str(straight / "model" / "model.safetensors"))
    b = load_file(str(out / "model" / "model.safetensors"))
    assert a.keys() == b.keys()
    assert all(torch.equal(a[key], b[key]) for key in a)

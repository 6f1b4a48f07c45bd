"""The CLI's error boundary: exit codes 1 (a bug, with a hint to rerun with --debug), 2 (input
or environment) and 130 (Ctrl-C, after leaving resumable state), always one line."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from golden import assert_golden
from mmkp.cli import evaluate
from mmkp.cli.main import describe, main
from mmkp.data.jsonl import read_posts
from mmkp.evaluation.prediction_files import read_predictions
from mmkp.features.journal import Journal

from .conftest import Run, tiny_checkpoint

ARGS = ["evaluate", "--pred", "p.txt", "--gold", "g.jsonl"]


def _raise(error: BaseException):
    def run(args: object) -> int:
        raise error

    return run


def test_a_bug_is_exit_1_with_a_hint_and_debug_shows_the_traceback(monkeypatch, capsys):
    # A stand-in command that fails the way a bug does; the boundary is what is tested.
    monkeypatch.setattr(evaluate, "run", _raise(RuntimeError("inner state broke")))
    assert main(ARGS) == 1
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        "mmkp evaluate: internal error: RuntimeError: inner state broke "
        "(rerun as `mmkp --debug evaluate ...` for the traceback)"
    ]
    assert main(["--debug", *ARGS]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last):")
    assert err.strip().splitlines()[-1] == (
        "mmkp evaluate: internal error: RuntimeError: inner state broke"
    )


@pytest.mark.parametrize(
    ("error", "line"),
    [
        (KeyboardInterrupt(), "interrupted; outputs are only ever replaced whole"),
        (json.JSONDecodeError("Expecting value", "x", 0), "error: Expecting value"),
        (IsADirectoryError(21, "Is a directory", "out.txt"), "error: out.txt: Is a directory"),
        (OSError(28, "No space left on device", "runs/x"), "error: runs/x: No space left"),
        (ValueError("first line\nsecond line"), "error: first line; second line"),
    ],
)
def test_expected_failures_are_one_line(monkeypatch, capsys, error, line):
    monkeypatch.setattr(evaluate, "run", _raise(error))
    code = main(ARGS)
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == (130 if isinstance(error, KeyboardInterrupt) else 2)
    assert len(lines) == 1 and lines[0].startswith(f"mmkp evaluate: {line}"), lines


def test_a_full_disk_says_so_and_that_finished_work_is_kept():
    text = describe(OSError(28, "No space left on device", "runs/x/stage1/last"))
    assert text.startswith("runs/x/stage1/last: No space left on device (no room left")
    assert "finished work is kept" in text


def _cli(*argv: object) -> list[str]:
    code = f"from mmkp.cli.main import main; raise SystemExit(main({[str(a) for a in argv]!r}))"
    return [sys.executable, "-c", code]


def _interruptible(command: list[str]) -> subprocess.Popen:
    """The command with Ctrl-C's default action, even when this test process was started
    with SIGINT ignored (a background job of a non-interactive shell is, and the child
    would inherit that across exec)."""
    return subprocess.Popen(
        command,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def _interrupt_when(child: subprocess.Popen, ready, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and child.poll() is None and not ready():
        time.sleep(0.02)
    assert child.poll() is None, "the command finished before it could be interrupted"
    child.send_signal(signal.SIGINT)
    child.wait(timeout=120)


def test_ctrl_c_in_prepare_keeps_the_journal_and_a_rerun_resumes(tmp_path: Path, run: Run):
    images = tmp_path / "img"
    images.mkdir()
    rows = []
    for i in range(14):
        Image.new("RGB", (64, 48), (20 * i, 90, 200 - 10 * i)).save(images / f"{i}.png")
        rows.append(json.dumps({"id": f"p{i}", "text": "t", "image": f"{i}.png"}) + "\n")
    (tmp_path / "in.jsonl").write_text("".join(rows))
    out, journal = tmp_path / "out", tmp_path / "out/journal.jsonl"
    args = ["prepare", "--input", tmp_path / "in.jsonl", "--images", images, "--out", out]
    args += ["--batch-size", "2"]  # real images: OCR makes each batch last long enough
    child = _interruptible(_cli(*args, "--no-progress"))
    _interrupt_when(child, lambda: journal.is_file() and journal.read_bytes().count(b"\n") >= 2)
    err = child.stderr.read() if child.stderr else ""
    assert child.returncode == 130, err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == (
        "mmkp prepare: interrupted; finished posts are kept; rerun the same command to resume"
    )
    finished = len(Journal(journal).finished)
    assert finished >= 2
    done = run(*args, "--no-progress")
    assert done.code == 0 and f"{finished} already done" in done.out
    assert [post.id for post in read_posts(out / "posts.jsonl")] == [f"p{i}" for i in range(14)]


def test_ctrl_c_in_predict_keeps_what_was_written_and_resume_completes_it(tmp_path: Path, run: Run):
    model = tiny_checkpoint(tmp_path / "model")
    posts = tmp_path / "posts.jsonl"
    with open(posts, "w") as handle:
        for i in range(5000):  # more than one of the predictor's 4096-post chunks
            handle.write(json.dumps({"id": f"p{i}", "text": f"the kca awards number {i}"}) + "\n")
    out = tmp_path / "preds.jsonl"
    partial = tmp_path / "preds.jsonl.partial"
    args = ["predict", "--model", model, "--input", posts, "--out", out]
    child = _interruptible(_cli(*args, "--threads", "1"))
    _interrupt_when(child, lambda: partial.is_file() and partial.stat().st_size > 0)
    err = child.stderr.read() if child.stderr else ""
    assert child.returncode == 130, err
    assert "mmkp predict: interrupted; predictions so far are kept in OUT.partial" in err
    assert not out.exists() and partial.is_file()
    kept = partial.read_bytes().count(b"\n")
    assert kept >= 1
    done = run(*args, "--resume")
    assert done.code == 0 and f"({kept} were there already)" in done.err
    straight = tmp_path / "straight.jsonl"
    assert run("predict", "--model", model, "--input", posts, "--out", straight).code == 0
    # Resumed posts are batched with other neighbours, which on some CPUs moves a score in its
    # last float32 bit: ids and keyphrases exactly, scores within rounding (tests/golden.py).
    resumed, whole = read_predictions(out), read_predictions(straight)
    assert [(p.id, p.keyphrases) for p in resumed] == [(p.id, p.keyphrases) for p in whole]
    assert_golden([p.scores for p in resumed], [p.scores for p in whole])
    assert not partial.exists()

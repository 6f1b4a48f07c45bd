"""`mmkp benchmark --quick` on the tiny posts, through the CLI: MM-MKP (configs/tiny.yaml) and
two retrieval baselines train and are scored; the rows that cannot run say why; a rerun
retrains nothing; a run killed before its marker continues with `mmkp train --resume`."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import shutil
from pathlib import Path

import pytest

from mmkp.cli.main import main

ROOT = Path(__file__).resolve().parents[3]
SUITE = Path(__file__).with_name("tiny_suite.yaml")
MARKER = "benchmark.json"

pytestmark = pytest.mark.slow  # three rounds of subprocesses: 35-100 s, by the machine's load


def benchmark(out: Path) -> tuple[int, str]:
    """Run the CLI as a user would; returns the exit code and what it printed."""
    argv = ["benchmark", "--suite", str(SUITE), "--data", "real", "--quick", "--out", str(out)]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main([*argv, "--root", str(ROOT)])
    return code, printed.getvalue()


def markers(out: Path) -> dict[str, int]:
    """Completion marker -> its mtime, for every finished run."""
    return {str(p.relative_to(out)): p.stat().st_mtime_ns for p in out.glob(f"runs/*/*/{MARKER}")}


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, str]:
    out = tmp_path_factory.mktemp("benchmark")
    return (out, *benchmark(out))


def test_quick_suite_trains_scores_and_tabulates(first_run):
    out, code, printed = first_run
    assert code == 1  # the broken system's run failed; everything else finished
    assert set(markers(out)) == {
        f"runs/frequency/run/{MARKER}",
        f"runs/knn/run/{MARKER}",
        f"runs/mmkp/quick-seed-1/{MARKER}",
    }
    for name in ("table.md", "table.csv", "table.png"):
        assert (out / name).stat().st_size > 0
    assert (out / "table.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = {row["key"]: row for row in csv.DictReader((out / "table.csv").open())}
    assert list(rows) == ["vgg", "frequency", "knn", "absent", "broken", "mmkp"]  # group order
    assert rows["vgg"]["note"] == "not run: the real posts have no images"
    assert rows["absent"]["note"] == (
        "not run: no config for real (configs/baselines/absent-real.yaml does not exist)"
    )
    assert rows["broken"]["note"].startswith("broken seed 1 failed: exit 2: ")
    assert "no_such_train.jsonl" in rows["broken"]["note"]
    # the table's scores are the run's own: what `mmkp train` wrote for the dev split
    dev_scores = json.loads((out / "runs/mmkp/quick-seed-1/dev_scores.json").read_text())
    assert float(rows["mmkp"]["F1@1 mean"]) == pytest.approx(dev_scores["scores"]["F1@1"])
    assert rows["mmkp"]["seeds"] == "1" and rows["mmkp"]["F1@1 std"] == ""
    assert rows["mmkp"]["note"] == "with decode.max_len=6"  # the suite's override, said
    # what each run cost: its wall clock, and posts/s from the seconds `mmkp train` (or the
    # retrieval job) recorded for predicting the scored split
    for key in ("mmkp", "knn", "frequency"):
        assert float(rows[key]["minutes"]) > 0 and float(rows[key]["posts/s"]) > 0
    assert dev_scores["predict_seconds"] > 0
    assert rows["vgg"]["minutes"] == ""
    assert rows["knn"]["best baseline"] == "knn"  # the better of the two that ran
    assert 0 < float(rows["frequency"]["p vs best baseline"]) <= 1
    markdown = (out / "table.md").read_text()
    assert "| **Image-only** |" in markdown and "| **Ours** |" in markdown
    assert "started mmkp seed 1" in printed and "done mmkp seed 1" in printed
    # each run trained with one thread and its seed
    log = (out / "runs/mmkp/quick-seed-1/log.txt").read_text()
    assert "--set train.seed=1" in log


def test_rerun_retrains_nothing(first_run, tmp_path):
    source, _, _ = first_run
    out = tmp_path / "copy"
    shutil.copytree(source, out)
    before = markers(out)
    code, printed = benchmark(out)
    assert code == 1  # the broken run is tried again and fails again
    assert markers(out) == before
    assert "reused mmkp seed 1" in printed and "started mmkp" not in printed
    assert "started broken seed 1" in printed


def test_killed_run_resumes(first_run, tmp_path):
    """A run stopped after training but before its marker continues: both stages are
    finished, so nothing is retrained; the run is scored again and the marker written."""
    source, _, _ = first_run
    out = tmp_path / "copy"
    shutil.copytree(source, out)
    run = out / "runs/mmkp/quick-seed-1"
    (run / MARKER).unlink()
    stage1 = (run / "stage1/metrics.jsonl").stat().st_mtime_ns
    code, printed = benchmark(out)
    assert code == 1
    assert (run / MARKER).is_file()
    assert (run / "stage1/metrics.jsonl").stat().st_mtime_ns == stage1
    commands = [line for line in (run / "log.txt").read_text().splitlines() if line[:2] == "$ "]
    assert len(commands) == 2 and commands[-1].endswith(" --resume")
    assert "done mmkp seed 1" in printed

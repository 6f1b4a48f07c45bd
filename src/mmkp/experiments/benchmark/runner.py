"""Run a plan's jobs, `jobs` at a time, each in its own single-thread subprocess; resumable.

Per run folder:

    spec.json         what the run was asked to do (written before it starts)
    log.txt           the subprocess's output
    benchmark.json    the completion marker: spec, split, scores; written atomically after
                      the predictions are scored, so it exists only for a finished run

A run whose marker holds the planned spec is not run again. An unfinished run with the same
spec continues (`mmkp train --resume`: from each stage's last finished epoch); a run folder
whose spec differs (other settings, other data) is cleared and run afresh.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from mmkp.evaluation.metrics import evaluate
from mmkp.experiments.benchmark.plan import Job
from mmkp.experiments.benchmark.scoring import gold_posts, read_aligned
from mmkp.io import write_json_atomic

MARKER = "benchmark.json"
SPEC = "spec.json"
LOG = "log.txt"
# One thread per run, also for libraries that read these rather than torch's setting.
SINGLE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


Event = Literal["start", "done", "reused", "failed"]


@dataclass(frozen=True)
class Progress:
    """What the runner tells its caller: a run started, finished, was reused or failed."""

    event: Event
    job: Job
    finished: int  # runs finished so far (done, reused or failed)
    total: int
    seconds: float | None = None
    message: str | None = None  # scores of a finished run, or why it failed


def read_marker(job: Job) -> dict[str, Any] | None:
    """The completion marker of `job`'s run folder when it records this job's spec."""
    path = job.run_dir / MARKER
    if not path.is_file():
        return None
    marker = json.loads(path.read_text(encoding="utf-8"))
    return marker if marker.get("spec") == job.spec else None


def run_jobs(
    jobs: list[Job], *, workers: int = 2, on_progress: Callable[[Progress], None] | None = None
) -> dict[str, str]:
    """Run every unfinished job; returns the failures, job label -> the reason."""
    report = on_progress or (lambda _: None)
    lock = threading.Lock()  # the counter, the failures and the callback, shared by workers
    finished = 0
    failures: dict[str, str] = {}

    def tell(event: Event, job: Job, seconds: float | None = None, message: str | None = None):
        nonlocal finished
        with lock:
            finished += event != "start"
            if event == "failed":
                failures[job.label] = str(message)
            report(Progress(event, job, finished, len(jobs), seconds, message))

    def work(job: Job) -> None:
        if (marker := read_marker(job)) is not None:
            tell("reused", job, message=_summary(marker["scores"]["scores"]))
            return
        tell("start", job)
        start = time.perf_counter()
        event, message = _attempt(job)
        tell(event, job, time.perf_counter() - start, message)

    pool = ThreadPoolExecutor(max(1, workers))
    try:
        for future in as_completed([pool.submit(work, job) for job in jobs]):
            future.result()
    except BaseException:  # Ctrl-C: start nothing more (the running children get it too)
        pool.shutdown(cancel_futures=True)
        raise
    pool.shutdown()
    return failures


def _attempt(job: Job) -> tuple[Event, str]:
    """Run and score one job: ("done", its scores) or ("failed", why)."""
    start = time.perf_counter()
    problem = _run(job)
    if problem is not None:
        return "failed", problem
    try:
        scores = _score(job, time.perf_counter() - start)
    except (ValueError, OSError) as exc:  # e.g. predictions that do not match the posts
        return "failed", f"scoring: {exc}"
    return "done", _summary(scores)


def _run(job: Job) -> str | None:
    """Run the job's command in its folder; None when it succeeded, else why it failed."""
    spec_path = job.run_dir / SPEC
    same_spec = spec_path.is_file() and json.loads(spec_path.read_text("utf-8")) == job.spec
    resume = job.resumable and same_spec
    if job.run_dir.exists() and not resume:
        shutil.rmtree(job.run_dir)  # other settings, or a run that cannot continue
    job.run_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(spec_path, job.spec)
    command = [*job.command, *(["--resume"] if resume else [])]
    log = job.run_dir / LOG
    with log.open("a", encoding="utf-8") as handle:
        handle.write(f"$ {' '.join(command)}\n")
        handle.flush()
        code = subprocess.run(
            command, stdout=handle, stderr=subprocess.STDOUT, env=os.environ | SINGLE_THREAD
        ).returncode
    if code == 0:
        return None
    status = f"killed by signal {-code}" if code < 0 else f"exit {code}"
    return f"{status}: {_last_line(log)} (log: {log})"


def _score(job: Job, seconds: float) -> dict[str, Any]:
    """Score the run's predictions on its gold posts and write the completion marker."""
    posts = gold_posts(job.gold)
    result = evaluate(read_aligned(job.predictions, posts), posts).to_dict()
    marker = {"spec": job.spec, "split": job.split, "seed": job.seed, "seconds": seconds}
    write_json_atomic(job.run_dir / MARKER, marker | {"scores": result})
    return result["scores"]


def _summary(scores: dict[str, float]) -> str:
    return " ".join(f"{metric} {scores[metric]:.2f}" for metric in ("F1@1", "F1@3", "MAP@5"))


def _last_line(log: Path) -> str:
    lines = [line.strip() for line in log.read_text("utf-8", errors="replace").splitlines()]
    return next((line for line in reversed(lines) if line), "no output")

"""The whole benchmark: (generated data,) plan, run, score, and write the table:

    OUT/table.md, OUT/table.csv, OUT/table.png    the comparison (see table.py, plot.py)
    OUT/runs/...                                   the runs (see plan.py, runner.py)
    OUT/generated/...                              with --data generated (see generated.py)

`mmkp benchmark` (cli/benchmark.py) and benchmarks/real_ablations.py call `run_benchmark`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from mmkp.experiments.benchmark.generated import GeneratedData, ensure_generated, read_ready
from mmkp.experiments.benchmark.plan import Plan, PlannedRow, PlanOptions, plan_suite
from mmkp.experiments.benchmark.plot import write_plot
from mmkp.experiments.benchmark.runner import Progress, read_marker, run_jobs
from mmkp.experiments.benchmark.scoring import gold_posts, run_scores
from mmkp.experiments.benchmark.suite import DataKind, Suite
from mmkp.experiments.benchmark.table import SystemResult, Table, build_table, to_csv, to_markdown
from mmkp.io import output_dir, write_text_atomic


@dataclass(frozen=True)
class BenchmarkOptions(PlanOptions):
    """What to plan (PlanOptions: out, data, seeds, quick, root, device) and how to run it."""

    workers: int = 2  # runs side by side, one thread each
    train: bool = True  # False: only tabulate the runs that finished
    generated: GeneratedData = field(default_factory=GeneratedData)


@dataclass(frozen=True)
class BenchmarkResult:
    table: Table
    files: tuple[Path, ...]  # table.md, table.csv, table.png
    failures: dict[str, str]  # run label -> why it failed


def run_benchmark(
    suite: Suite,
    options: BenchmarkOptions,
    *,
    on_progress: Callable[[Progress], None] | None = None,
    on_note: Callable[[str], None] | None = None,
) -> BenchmarkResult:
    out = output_dir(options.out)
    note = on_note or (lambda _: None)
    data_id = None
    if options.data == "generated":
        if options.train:
            note(f"generated data in {out / 'generated'} (built once, then reused)")
            data_id, problem = ensure_generated(out, options.generated)
            if problem:
                note(problem)
        else:
            data_id = read_ready(out)
    plan = plan_suite(suite, replace(options, out=out, data_id=data_id))
    failures = {}
    if options.train:
        failures = run_jobs(plan.jobs, workers=options.workers, on_progress=on_progress)
    results = [_result(row, failures, plan.data) for row in plan.rows]
    table = build_table(suite, results, _caption(plan))
    files = (out / "table.md", out / "table.csv", out / "table.png")
    write_text_atomic(files[0], to_markdown(table))
    write_text_atomic(files[1], to_csv(table))
    write_plot(table, files[2])
    return BenchmarkResult(table, files, failures)


def _result(row: PlannedRow, failures: dict[str, str], data: DataKind) -> SystemResult:
    """A planned system's finished runs, with the suite's overrides of its config (e.g. an
    epoch budget) and the runs that failed or have not run noted."""
    if row.reason is not None:
        return SystemResult(row.system, note=row.reason)
    spec = row.system.run_spec(data)
    runs, notes, pending = [], [], []
    if spec is not None and spec.set:
        notes.append(f"with {', '.join(spec.set)}")
    for job in row.jobs:
        marker = read_marker(job)
        if marker is not None:
            scores = marker["scores"]["scores"]
            runs.append(
                run_scores(job.predictions, job.gold, job.seed, scores, marker.get("seconds"))
            )
        elif job.label in failures:
            notes.append(f"{job.label} failed: {failures[job.label]}")
        else:
            pending.append(job)
    if pending:
        which = ", ".join(f"seed {job.seed}" for job in pending if job.seed is not None)
        notes.append("not run yet" + (f": {which}" if which and runs else ""))
    return SystemResult(row.system, tuple(runs), "; ".join(notes) or None)


def _caption(plan: Plan) -> str:
    jobs = plan.jobs
    if not jobs:
        return f"{plan.data} data, {plan.split} split"
    posts = len(gold_posts(jobs[0].gold))
    return f"{plan.data} data, scored on the {plan.split} split ({posts} posts)"

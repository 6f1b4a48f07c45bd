"""The comparison table in the layout of the paper's Table 1: systems grouped (image-only,
text-only CLA / GEN, text-image, ours), mean ± std over seeds, and two paired bootstrap
p-values on the suite's first metric: each system against the best baseline, and the
reference system (MM-MKP) against each; the paper's own figures beside them (`PAPER_NOTE`);
what each run cost (minutes, prediction posts/s); and on generated data the first metric per
planted kind of post. Written as Markdown and CSV."""

from __future__ import annotations

import csv
import io
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from mmkp.data.synthetic import KINDS
from mmkp.evaluation.significance import paired_bootstrap
from mmkp.evaluation.summary import UNDEFINED, mean_std
from mmkp.experiments.benchmark.scoring import RunScores, seed_average
from mmkp.experiments.benchmark.suite import Suite, System
from mmkp.experiments.kinds import ALL

RESAMPLES = 1000  # as `mmkp compare`
BOOTSTRAP_SEED = 0


@dataclass(frozen=True)
class SystemResult:
    """A system's finished runs on the benchmark's data, and what to say about it."""

    system: System
    runs: tuple[RunScores, ...] = ()
    note: str | None = None  # why it did not run, or which of its runs failed


@dataclass(frozen=True)
class Row:
    result: SystemResult
    means: dict[str, float]  # by metric; empty without runs
    stds: dict[str, float]  # by metric; empty with fewer than two runs
    p_best: float | None  # against the best baseline
    p_reference: float | None  # the reference against this system

    @property
    def system(self) -> System:
        return self.result.system

    @property
    def minutes(self) -> float | None:
        """Mean wall-clock minutes of a run (training and predicting)."""
        return _mean([run.seconds / 60 for run in self.result.runs if run.seconds is not None])

    @property
    def posts_per_second(self) -> float | None:
        """Mean prediction speed on the scored split, once trained."""
        return _mean([s for run in self.result.runs if (s := run.posts_per_second) is not None])

    def by_kind(self, metric: str) -> dict[str, list[float]]:
        """`metric` per group of posts ("all", then each planted kind), one value per run."""
        groups: dict[str, list[float]] = {}
        for run in self.result.runs:
            for group, scores in (run.by_kind or {}).items():
                groups.setdefault(group, []).append(scores[metric])
        return groups


@dataclass(frozen=True)
class Table:
    suite: Suite
    caption: str  # which data, which split, how many posts
    rows: tuple[Row, ...]  # in the suite's group order
    best_baseline: str | None  # its system key

    @property
    def metric(self) -> str:
        """The metric the p-values test."""
        return self.suite.metrics[0]


def build_table(suite: Suite, results: Sequence[SystemResult], caption: str) -> Table:
    order = {group.name: i for i, group in enumerate(suite.groups)}
    results = sorted(results, key=lambda r: order[r.system.group])  # stable: suite order within
    metric = suite.metrics[0]
    means = {r.system.key: _means(r, suite.metrics) for r in results}
    baselines = [
        r
        for r in results
        if r.runs and suite.group(r.system.group).baseline and r.system.key != suite.reference
    ]
    best = max(baselines, key=lambda r: means[r.system.key][metric], default=None)
    reference = next((r for r in results if r.system.key == suite.reference and r.runs), None)
    rows = []
    for r in results:
        key = r.system.key
        p_best = _p_value(r, best, metric) if best and key != best.system.key else None
        p_ref = _p_value(reference, r, metric) if reference and key != suite.reference else None
        rows.append(Row(r, means[key], _stds(r, suite.metrics), p_best, p_ref))
    return Table(suite, caption, tuple(rows), best.system.key if best else None)


def _mean(values: list[float]) -> float | None:
    return float(statistics.mean(values)) if values else None


def _means(result: SystemResult, metrics: Sequence[str]) -> dict[str, float]:
    if not result.runs:
        return {}
    return {m: float(statistics.mean(run.scores[m] for run in result.runs)) for m in metrics}


def _stds(result: SystemResult, metrics: Sequence[str]) -> dict[str, float]:
    if len(result.runs) < 2:
        return {}
    return {m: statistics.stdev([run.scores[m] for run in result.runs]) for m in metrics}


def _p_value(a: SystemResult | None, b: SystemResult | None, metric: str) -> float | None:
    """Two-sided paired bootstrap p of A vs B (seed-averaged per-post scores); None when
    either has no runs or they were scored on different posts."""
    if a is None or b is None or not a.runs or not b.runs:
        return None
    if a.runs[0].post_ids != b.runs[0].post_ids:
        return None
    (result,) = paired_bootstrap(
        seed_average(list(a.runs)),
        seed_average(list(b.runs)),
        metrics=(metric,),
        resamples=RESAMPLES,
        seed=BOOTSTRAP_SEED,
    )
    return result.p_value


def format_p(p: float | None) -> str:
    return UNDEFINED if p is None else f"{p:.4f}"


def _has_baselines(table: Table) -> bool:
    """Whether any group competes for best baseline (Table 2's ablations do not)."""
    return any(group.baseline for group in table.suite.groups)


def _has_paper(table: Table) -> bool:
    return any(row.system.paper for row in table.rows)


def _has_cost(table: Table) -> bool:
    return any(row.minutes is not None for row in table.rows)


def _kind_groups(table: Table) -> list[str]:
    """The groups of posts scored apart: "all" and the planted kinds, when runs have them."""
    present = {group for row in table.rows for group in row.by_kind(table.metric)}
    return [group for group in (ALL, *KINDS) if group in present]


def _reference_name(table: Table) -> str:
    return next(s.name for s in table.suite.systems if s.key == table.suite.reference)


def to_markdown(table: Table) -> str:
    metrics = table.suite.metrics
    best = next((r.system.name for r in table.rows if r.system.key == table.best_baseline), None)
    header = ["system", "seeds", *metrics]
    if _has_baselines(table):
        header.append(f"p vs best baseline ({best or UNDEFINED})")
    header.append(f"p {_reference_name(table)} vs it")
    if _has_paper(table):
        header.append(f"paper ({' / '.join(metrics)})")
    if _has_cost(table):
        header += ["minutes", "posts/s"]
    header.append("note")
    lines = [
        f"# {table.suite.title}",
        "",
        f"{table.caption}. Mean ± sample std over seeds (one value: one run). p: two-sided "
        f"paired bootstrap on {table.metric} ({RESAMPLES} resamples, seed {BOOTSTRAP_SEED}; "
        "each post's score averaged over the seeds of a system).",
        "",
        "| " + " | ".join(header) + " |",
        "|---|---:|" + "---:|" * (len(header) - 3) + "---|",
    ]
    group = None
    for row in table.rows:
        if row.system.group != group:
            group = row.system.group
            title = table.suite.group(group).title
            lines.append(f"| **{title}** |" + " |" * (len(header) - 1))
        lines.append("| " + " | ".join(_markdown_cells(table, row)) + " |")
    if _has_paper(table):
        lines += ["", PAPER_NOTE]
    if _has_cost(table):
        lines += ["", COST_NOTE]
    lines += _kind_section(table)
    return "\n".join(lines) + "\n"


PAPER_NOTE = (
    "paper: the published figures (MM-MKP, ACM MM 2023, Tables 1 and 2: mean of 5 seeds on "
    "its test split, every system trained on ~43k posts with images), not rerun here: compare "
    "how systems are ordered, not the values, which come from other posts and another split."
)
COST_NOTE = (
    "minutes: wall clock of a whole run (training with its dev evaluations, then predicting "
    "dev and the scored split), mean over seeds; posts/s: predicting the scored split with "
    "the trained model (features read from the prepared store, one thread)."
)


def _kind_section(table: Table) -> list[str]:
    """The first metric per planted kind of generated post, one row per system that ran."""
    groups = _kind_groups(table)
    if not groups:
        return []
    lines = [
        "",
        f"## {table.metric} by kind of post",
        "",
        "| system | seeds | " + " | ".join(groups) + " |",
        "|---|---:|" + "---:|" * len(groups),
    ]
    for row in table.rows:
        values = row.by_kind(table.metric)
        if values:
            cells = [mean_std(values[group]) if group in values else UNDEFINED for group in groups]
            lines.append(
                f"| {row.system.name} | {len(row.result.runs)} | " + " | ".join(cells) + " |"
            )
    return lines


def _markdown_cells(table: Table, row: Row) -> list[str]:
    runs = row.result.runs
    cells = [row.system.name, str(len(runs))]
    for metric in table.suite.metrics:
        cells.append(mean_std([run.scores[metric] for run in runs]) if runs else UNDEFINED)
    if _has_baselines(table):
        cells.append(format_p(row.p_best))
    cells.append(format_p(row.p_reference))
    if _has_paper(table):
        paper = row.system.paper
        cells.append(" / ".join(f"{v:.2f}" for v in paper) if paper else UNDEFINED)
    if _has_cost(table):
        cells.append(UNDEFINED if row.minutes is None else f"{row.minutes:.1f}")
        speed = row.posts_per_second
        cells.append(UNDEFINED if speed is None else f"{speed:.0f}")
    cells.append(row.result.note or "")
    return cells


def to_csv(table: Table) -> str:
    """One line per system; numbers unrounded, empty where undefined."""
    metrics = table.suite.metrics
    header = ["group", "system", "key", "seeds"]
    header += [f"{m} {kind}" for m in metrics for kind in ("mean", "std")]
    header += ["p vs best baseline", "best baseline", f"p {table.suite.reference} vs it"]
    header += [f"paper {m}" for m in metrics] + ["minutes", "posts/s"]
    kinds = _kind_groups(table)
    header += [f"{table.metric} {group} {kind}" for group in kinds for kind in ("mean", "std")]
    header.append("note")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in table.rows:
        line: list[object] = [row.system.group, row.system.name, row.system.key]
        line.append(len(row.result.runs))
        for metric in metrics:
            line += [row.means.get(metric, ""), row.stds.get(metric, "")]
        line += [_blank(row.p_best), table.best_baseline or "", _blank(row.p_reference)]
        paper = row.system.paper or ("",) * len(metrics)
        line += [*paper, _blank(row.minutes), _blank(row.posts_per_second)]
        values = row.by_kind(table.metric)
        for group in kinds:
            runs = values.get(group, [])
            line.append(statistics.mean(runs) if runs else "")
            line.append(statistics.stdev(runs) if len(runs) > 1 else "")
        line.append(row.result.note or "")
        writer.writerow(line)
    return buffer.getvalue()


def _blank(value: float | None) -> object:
    return "" if value is None else value

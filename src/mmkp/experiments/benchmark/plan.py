"""From a suite to runs: each system becomes its (system, seed) jobs, or a reason it does not
run on this data. Nothing is trained here; a job is a command line and what it was asked to
do (`spec`), which decides whether an earlier run can be reused.

    OUT/runs/<system>/seed-<n>/     a training run (`mmkp train --out`; --quick: quick-seed-<n>)
    OUT/runs/<system>/run/          a retrieval baseline's one run (deterministic)
    OUT/generated/<system>.yaml     a generated-data config, placed beside prepared/
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmkp.config_loader import to_dict
from mmkp.data.config import SplitConfig
from mmkp.experiments.benchmark.suite import DataKind, RunSpec, Suite, System, resolve_config
from mmkp.training.config import ExperimentConfig, load_config

# The split each kind of data is scored on: the real posts have no test split of their own.
SCORED_SPLIT: dict[DataKind, str] = {"real": "dev", "generated": "test"}
NO_IMAGES = "the real posts have no images"
# --quick: a few epochs (the first stage's, then each later stage's), to see that everything
# runs and roughly where it lands.
QUICK_EPOCHS = (2, 1)
RETRIEVAL_JOB = "mmkp.experiments.benchmark.retrieval_job"


@dataclass(frozen=True, eq=False)
class Job:
    """One run: `command` writes `<split>_predictions.jsonl` into `run_dir`."""

    system: str
    seed: int | None  # None: a deterministic baseline's one run
    run_dir: Path
    command: tuple[str, ...]
    spec: dict[str, Any]  # a finished run is reused only when its spec is this one
    gold: SplitConfig  # the posts it is scored on
    split: str
    resumable: bool  # `mmkp train --resume` continues an interrupted run

    @property
    def label(self) -> str:
        return self.system if self.seed is None else f"{self.system} seed {self.seed}"

    @property
    def predictions(self) -> Path:
        return self.run_dir / f"{self.split}_predictions.jsonl"


@dataclass(frozen=True)
class PlannedRow:
    system: System
    jobs: tuple[Job, ...] = ()
    reason: str | None = None  # why it does not run on this data


@dataclass(frozen=True)
class Plan:
    data: DataKind
    split: str
    rows: tuple[PlannedRow, ...]

    @property
    def jobs(self) -> list[Job]:
        """Seed-major, so that every system has a first run before any has its second."""
        jobs = [job for row in self.rows for job in row.jobs]
        return sorted(jobs, key=lambda job: job.seed or 0)


@dataclass(frozen=True)
class PlanOptions:
    out: Path
    data: DataKind
    seeds: tuple[int, ...] = (1, 2, 3)
    quick: bool = False
    root: Path = field(default_factory=Path.cwd)  # where the suite's config paths start
    data_id: dict[str, Any] | None = None  # the generated data's identity (its ready marker)
    # Every training run's `train.device` (auto, cpu, cuda, cuda:N); None: each config's own.
    device: str | None = None


def plan_suite(suite: Suite, options: PlanOptions) -> Plan:
    rows = tuple(_plan_system(system, options) for system in suite.systems)
    return Plan(options.data, SCORED_SPLIT[options.data], rows)


def _plan_system(system: System, options: PlanOptions) -> PlannedRow:
    reason = _reason_not_run(system, options)
    if reason is not None:
        return PlannedRow(system, reason=f"not run: {reason}")
    spec = system.run_spec(options.data)
    assert spec is not None and spec.config is not None  # checked by _reason_not_run
    config_path = _place_config(system, spec.config, options)
    try:
        if system.retrieval is not None:
            jobs = (_retrieval_job(system, config_path, spec, options),)
        else:
            seeds = options.seeds[:1] if options.quick else options.seeds
            jobs = tuple(_training_job(system, config_path, spec, seed, options) for seed in seeds)
    except (ValueError, OSError) as exc:
        line = " ".join(str(exc).split())
        return PlannedRow(system, reason=f"not run: its config does not load: {line}")
    return PlannedRow(system, jobs=jobs)


def _reason_not_run(system: System, options: PlanOptions) -> str | None:
    if system.needs_images and options.data == "real":
        return NO_IMAGES
    missing = [module for module in system.requires if importlib.util.find_spec(module) is None]
    if missing:
        if system.extra:
            return f"needs the optional extra '{system.extra}' (pip install 'mmkp[{system.extra}]')"
        return f"needs {', '.join(missing)} (not installed)"
    spec = system.run_spec(options.data)
    if spec is None:
        return f"no config for {options.data}"
    if spec.skip is not None:
        return spec.skip
    assert spec.config is not None
    if not resolve_config(spec.config, options.root).is_file():
        return f"no config for {options.data} ({spec.config} does not exist)"
    return None


def _place_config(system: System, config: str, options: PlanOptions) -> Path:
    """Real-data configs are read in place (they name ../shared relative to themselves);
    a generated-data config is copied beside the generated prepared/ folder its paths name."""
    source = resolve_config(config, options.root)
    if options.data == "real":
        return source
    target = options.out / "generated" / f"{system.key}.yaml"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return target


def _training_job(
    system: System, config: Path, spec: RunSpec, seed: int, options: PlanOptions
) -> Job:
    # The suite's own overrides after --quick's: Table 2's `train.stage2.epochs=0` stays.
    quick = _quick_overrides(load_config(config, spec.set)) if options.quick else []
    overrides = [*quick, *spec.set, f"train.seed={seed}"]
    if options.device is not None:  # part of the spec: a GPU run does not stand for a CPU one
        overrides.append(f"train.device={options.device}")
    # The config's own thread count, never overridden: the thread count is part of what a
    # seed reproduces (docs/training.md), so a benchmark run equals a plain `mmkp train`.
    experiment = load_config(config, overrides)
    folder = f"quick-seed-{seed}" if options.quick else f"seed-{seed}"
    run_dir = options.out / "runs" / system.key / folder
    command = [sys.executable, "-m", "mmkp", "train", "--config", str(config)]
    command += ["--out", str(run_dir), *_set_args(overrides)]
    return Job(
        system=system.key,
        seed=seed,
        run_dir=run_dir,
        command=tuple(command),
        spec={"train": experiment.to_dict(), "data_id": options.data_id},
        gold=_gold_split(experiment, options.data, config),
        split=SCORED_SPLIT[options.data],
        resumable=True,
    )


def _quick_overrides(experiment: ExperimentConfig) -> list[str]:
    """`train.stages.<name>.epochs=N` for each stage of the config, by QUICK_EPOCHS."""
    first, later = QUICK_EPOCHS
    return [
        f"train.stages.{stage.name}.epochs={first if i == 0 else later}"
        for i, stage in enumerate(experiment.train.stages)
    ]


def _retrieval_job(system: System, config: Path, spec: RunSpec, options: PlanOptions) -> Job:
    assert system.retrieval is not None
    experiment = load_config(config, spec.set)
    run_dir = options.out / "runs" / system.key / "run"
    split = SCORED_SPLIT[options.data]
    command = [sys.executable, "-m", RETRIEVAL_JOB, "--baseline", system.retrieval]
    command += ["--config", str(config), "--split", split]
    command += ["--out", str(run_dir / f"{split}_predictions.jsonl"), *_set_args(spec.set)]
    return Job(
        system=system.key,
        seed=None,
        run_dir=run_dir,
        command=tuple(command),
        spec={
            "baseline": system.retrieval,
            "data": to_dict(experiment.data),
            "data_id": options.data_id,
        },
        gold=_gold_split(experiment, options.data, config),
        split=split,
        resumable=False,
    )


def _gold_split(experiment: ExperimentConfig, data: DataKind, config: Path) -> SplitConfig:
    split = getattr(experiment.data, SCORED_SPLIT[data])
    if split is None:
        raise ValueError(f"{config}: no data.{SCORED_SPLIT[data]} split to score {data} data on")
    return split


def _set_args(overrides: list[str] | tuple[str, ...]) -> list[str]:
    return [arg for value in overrides for arg in ("--set", value)]

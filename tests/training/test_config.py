from pathlib import Path

import pytest

from mmkp.config_loader import ConfigError
from mmkp.training.config import ExperimentConfig, load_config

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = sorted([*(ROOT / "configs").glob("*.yaml"), *(ROOT / "src/mmkp/configs").glob("*.yaml")])


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "exp.yaml"
    path.write_text(text, encoding="utf-8")
    return path


MINIMAL = "data:\n  train: data/train.jsonl\n  dev: {path: data/dev.txt, first: 2, last: 5}\n"


def test_every_shipped_config_loads_and_round_trips_through_json():
    assert {p.name for p in CONFIGS} >= {"tiny.yaml", "cmkp.yaml", "synthetic.yaml"}
    for path in CONFIGS:
        config = load_config(path)
        assert ExperimentConfig.from_dict(config.to_dict(), source="json") == config


def test_paths_in_a_file_are_relative_to_it_and_defaults_fill_the_rest(tmp_path):
    config = load_config(write(tmp_path, MINIMAL))
    assert config.data.train.path == str(tmp_path / "data" / "train.jsonl")
    assert (config.data.dev.path, config.data.dev.first, config.data.dev.last) == (
        str(tmp_path / "data" / "dev.txt"),
        2,
        5,
    )
    assert (config.train.stage("stage1").lr, config.train.stage("stage1").terms) == (
        1e-3,
        ("itm", "irtm", "cla"),
    )
    assert (config.train.stage("stage2").terms, config.train.stage("stage2").trainable) == (
        ("gen",),
        ("decoder", "generator"),
    )
    assert (config.decode.beam_size, config.decode.max_len, config.decode.top_k) == (10, 6, 5)


def test_set_overrides_values_with_yaml_typing_and_cwd_relative_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = load_config(
        write(tmp_path, MINIMAL),
        [
            "train.stage2.epochs=3",
            "train.stage1.monitor=F1@1",
            "data.features=feats",
            "train.stage1.terms=[cla, gen]",
            "train.stage2.trainable=null",
        ],
    )
    assert config.train.stage("stage2").epochs == 3
    assert (config.train.stage("stage1").terms, config.train.stage("stage2").trainable) == (
        ("cla", "gen"),
        None,
    )
    assert config.train.stage("stage1").monitor == "F1@1"
    assert config.data.features == str(tmp_path / "feats")


def test_unknown_key_in_a_file_names_the_key_and_the_file(tmp_path):
    path = write(tmp_path, MINIMAL + "train:\n  stage2: {epoch: 3}\n")
    with pytest.raises(ConfigError, match=r"exp\.yaml: unknown key 'train\.stages\[1\]\.epoch'"):
        load_config(path)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("train.stage2.epoch=3", r"--set: unknown key 'train\.stage2\.epoch' \(known keys: epochs"),
        ("train.stage1.epochs=true", r"--set: train\.stage1\.epochs must be int, got True"),
        ("decode.strategy=sample", r"decode\.strategy must be one of \['beam', 'greedy'\]"),
        ("train.stage1", r"expected key\.path=value"),
        ("train.stage1.terms=[cla, kl]", r"train\.stages\[0\]\.terms\[1\] must be one of \['itm'"),
        ("train.stage1.terms=[]", r"terms must list distinct loss terms, got \[\]"),
        ("data.train.path.x=1", r"'data\.train\.path' is not a section"),
    ],
)
def test_bad_overrides_are_named(tmp_path, override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, MINIMAL), [override])


def test_invalid_values_and_missing_keys_name_the_section(tmp_path):
    with pytest.raises(ConfigError, match=r"train\.stages\[0\]: lr must be > 0, got -1\.0"):
        load_config(write(tmp_path, MINIMAL), ["train.stage1.lr=-1"])
    with pytest.raises(ConfigError, match=r"missing required key 'data\.dev'"):
        load_config(write(tmp_path, "data: {train: a.jsonl}\n"))
    with pytest.raises(FileNotFoundError, match="no such config file"):
        load_config(tmp_path / "absent.yaml")


def test_a_partial_section_keeps_the_defaults_of_the_rest(tmp_path):
    config = load_config(write(tmp_path, MINIMAL + "train: {stage2: {lr: 0.01}}\n"))
    assert (config.train.stage("stage2").lr, config.train.stage("stage2").epochs) == (0.01, 15)
    assert config.train.stage("stage2").trainable == ("decoder", "generator")


@pytest.mark.parametrize("override", ["train.threads=0", "train.eval_batch_size=0"])
def test_thread_and_eval_batch_counts_are_checked_when_read(tmp_path, override):
    with pytest.raises(ConfigError, match="threads and eval_batch_size must be >= 1"):
        load_config(write(tmp_path, MINIMAL), [override])

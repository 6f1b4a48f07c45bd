"""Every `--set` command line written in a shipped config or a doc works: each is applied to
the config it documents, pointed at the tiny data with tiny sizes, and trained for an epoch
per stage. A documented override that a config refuses, or that cannot train, fails here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mmkp.training.config import load_config
from mmkp.training.pipeline import run_training

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "training" / "data"
SET = re.compile(r"--set\s+(['\"]?)([\w.]+=\S+?)\1(?=[\s,)]|$)")
PLACEHOLDER = "key.path="  # the docs' generic form, not a command line
# Which config a file's command lines are written for.
DOCUMENTED = {
    ROOT / "configs" / "cmkp.yaml": ROOT / "configs" / "cmkp.yaml",
    ROOT / "src" / "mmkp" / "configs" / "synthetic.yaml": ROOT / "src/mmkp/configs/synthetic.yaml",
    ROOT / "docs" / "training.md": ROOT / "configs" / "cmkp.yaml",
    ROOT / "docs" / "model.md": ROOT / "configs" / "cmkp.yaml",
    ROOT / "README.md": ROOT / "configs" / "cmkp.yaml",
}
TINY = [
    f"data.train={DATA / 'tiny_train.jsonl'}",
    f"data.dev={DATA / 'tiny_dev.jsonl'}",
    "data.test=null",
    "data.features=null",
    "data.itm=null",
    "model.embeddings=random",
    "model.emb_size=16",
    "model.hidden_size=8",
    "model.num_heads=2",
    "train.threads=1",
    "train.eval_batch_size=16",
    "train.stage1.epochs=1",
    "train.stage1.batch_size=8",
    "train.stage2.epochs=1",
    "train.stage2.batch_size=8",
    "decode.beam_size=2",
]


def documented_command_lines() -> list[tuple[str, Path, list[str]]]:
    """(where, config, overrides) for every line of a doc or config that holds `--set`s."""
    found = []
    for doc, config in DOCUMENTED.items():
        for number, line in enumerate(doc.read_text(encoding="utf-8").splitlines(), 1):
            overrides = [match.group(2).rstrip(".,`") for match in SET.finditer(line)]
            overrides = [o for o in overrides if not o.startswith(PLACEHOLDER)]
            if overrides:
                found.append((f"{doc.relative_to(ROOT)}:{number}", config, overrides))
    return found


COMMAND_LINES = documented_command_lines()


def test_the_documented_command_lines_are_found():
    assert len(COMMAND_LINES) >= 5
    assert any("model.use_cla_loss=true" in o for _, _, o in COMMAND_LINES)


@pytest.mark.slow
@pytest.mark.parametrize(("where", "config", "overrides"), COMMAND_LINES, ids=lambda v: str(v))
def test_each_documented_override_loads_and_trains(where, config, overrides, tmp_path, one_thread):
    experiment = load_config(config, [*overrides, *TINY])
    run = run_training(experiment, tmp_path / "run")
    assert run.scores["dev"].num_posts == 6, where

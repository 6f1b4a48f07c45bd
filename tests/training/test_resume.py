"""An interrupted run, resumed, ends exactly where an uninterrupted run ends."""

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from mmkp.training.pipeline import run_training


class Interrupted(Exception):
    pass


def metrics(run: Path, stage: str) -> list[dict]:
    rows = [json.loads(line) for line in (run / stage / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in row.items() if not k.endswith(("per_s", "seconds"))} for row in rows]


@pytest.mark.slow
def test_resume_after_interruptions_matches_an_uninterrupted_run(tiny_config, tmp_path):
    straight = run_training(tiny_config, tmp_path / "straight")

    stops = {("stage1", 2), ("stage2", 1)}
    seen: list[tuple[str, int]] = []

    def interrupt(stage: str, epoch: int) -> None:
        seen.append((stage, epoch))
        if (stage, epoch) in stops:
            stops.discard((stage, epoch))
            raise Interrupted

    out = tmp_path / "interrupted"
    with pytest.raises(Interrupted):
        run_training(tiny_config, out, on_epoch_end=interrupt)
    with pytest.raises(Interrupted):
        run_training(tiny_config, out, resume=True, on_epoch_end=interrupt)
    resumed = run_training(tiny_config, out, resume=True, on_epoch_end=interrupt)

    epochs1, epochs2 = tiny_config.train.stage1.epochs, tiny_config.train.stage2.epochs
    expected = [("stage1", e) for e in range(1, epochs1 + 1)]
    expected += [("stage2", e) for e in range(1, epochs2 + 1)]
    assert seen == expected  # each epoch ran exactly once, resumes continued at the next one
    for stage in ("stage1", "stage2"):
        assert metrics(out, stage) == metrics(tmp_path / "straight", stage)
    a = load_file(str(straight.model_dir / "model.safetensors"))
    b = load_file(str(resumed.model_dir / "model.safetensors"))
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert resumed.scores["dev"].scores == straight.scores["dev"].scores


def test_an_existing_run_is_not_overwritten_without_resume(tiny_config, tmp_path):
    (tmp_path / "stage1" / "last").mkdir(parents=True)
    with pytest.raises(ValueError, match="already exists: pass --resume"):
        run_training(tiny_config, tmp_path)

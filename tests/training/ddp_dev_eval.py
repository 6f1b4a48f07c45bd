"""Started by test_ddp.py under torchrun (or alone): the dev row and ranked dev predictions of
a freshly built stage-1 model, written by rank 0 as JSON to argv[2]; argv[1] is the config,
argv[3:] its --set overrides."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from mmkp.training.config import load_config
from mmkp.training.data import prepare_data
from mmkp.training.device import Hardware
from mmkp.training.distributed import Distributed, end_rank
from mmkp.training.recipe import StageRecipe


def dev_evaluation(config_path: str, out: Path, overrides: list[str]) -> dict | None:
    config = load_config(config_path, overrides)
    place = Distributed.from_env()
    with place.session(Hardware.from_config("cpu", "fp32")) as hardware:
        data = prepare_data(config.data)
        recipe = StageRecipe(
            config, out / "run", data, index=0, hardware=hardware, distributed=place
        )
        recipe.setup()
        row = recipe.evaluate_epoch(0, None)
        ranked = recipe.dev_predictions()
    row.pop("dev_predict_seconds")
    return {"row": row, "ranked": ranked} if place.is_main else None


if __name__ == "__main__":
    result = dev_evaluation(sys.argv[1], Path(sys.argv[2]).parent, sys.argv[3:])
    if result is not None:
        Path(sys.argv[2]).write_text(json.dumps(result), encoding="utf-8")
    end_rank(0)  # as `mmkp train` ends a rank

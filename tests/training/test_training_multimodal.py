"""Both stages with the image branch: generated posts and a feature store of grids."""

import numpy as np
import pytest

from mmkp.data.jsonl import read_posts
from mmkp.data.synthetic import generate
from mmkp.features.store import FeatureWriter
from mmkp.training.config import load_config
from mmkp.training.pipeline import run_training

from .conftest import TINY

DIM = 8


def write_grids(data_dir, store_dir) -> None:
    """Grids whose sign says whether the image belongs to the text (the L_itm label), so the
    matcher has something to learn; values are fixed by the post index."""
    writer = FeatureWriter(store_dir, backbone="handmade", dim=DIM)
    for split in ("train", "dev"):
        posts = read_posts(data_dir / f"{split}.jsonl")
        rng = np.random.default_rng(len(posts))
        grids = rng.normal(0.0, 1.0, (len(posts), 49, DIM))
        sign = np.array([1.0 if p.extra["match_label"] else -1.0 for p in posts])
        writer.append([p.id for p in posts], grids + sign[:, None, None])


@pytest.mark.slow
def test_stage1_optimises_all_three_terms_and_stage2_generates(tmp_path):
    data = generate(tmp_path / "data", n_train=24, n_dev=8, n_test=0, seed=3)
    write_grids(data.train.parent, tmp_path / "features")
    config = load_config(
        TINY,
        [
            f"data.train={data.train}",
            f"data.dev={data.dev}",
            f"data.features={tmp_path / 'features'}",
            "data.post_match_label=match_label",  # the generated posts' planted relevance
            "model.use_image=true",
            f"model.image_dim={DIM}",
            "train.stage1.epochs=6",
            "train.stage2.epochs=2",
        ],
    )
    run = run_training(config, tmp_path / "run")
    stage1 = run.history["stage1"]
    assert {"train_itm", "train_irtm", "train_cla", "dev_itm", "dev_irtm"} <= stage1[0].keys()
    assert stage1[-1]["train_itm"] < stage1[0]["train_itm"]
    assert stage1[-1]["train_loss"] < stage1[0]["train_loss"]
    assert [row["epoch"] for row in run.history["stage2"]] == [0, 1, 2]
    assert run.scores["dev"].num_posts == 8


def test_a_model_narrower_than_its_grids_is_refused_naming_both(tmp_path):
    data = generate(tmp_path / "data", n_train=6, n_dev=2, n_test=0, seed=3)
    write_grids(data.train.parent, tmp_path / "features")
    overrides = [f"data.train={data.train}", f"data.dev={data.dev}", "model.image_dim=12",
                 f"data.features={tmp_path / 'features'}", "model.use_image=true"]  # fmt: skip
    pattern = r"model.image_dim is 12 but the feature store .* holds 8-channel grids \(handmade\)"
    with pytest.raises(ValueError, match=pattern):
        run_training(load_config(TINY, overrides), tmp_path / "run")

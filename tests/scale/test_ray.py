"""`prepare` and `predict` on Ray Data equal the local engine, shard by shard.

A local Ray on 2 CPUs is started here and shut down after; without Ray installed (the `ray`
extra) the module is skipped."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from inference.conftest import save_tiny_checkpoint
from mmkp.cli.main import main
from mmkp.features.prepare import PrepareConfig, prepare
from mmkp.features.store import FeatureStore
from mmkp.scale.engine import RayOptions
from mmkp.scale.predict import predict_shards
from mmkp.scale.prepare import prepare_shards

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.slow

OPTIONS = RayOptions(concurrency=2, batch_size=4)
BAD_LINE = '{"id": "broken", "text": '  # torn JSON: an input error at its line
MISSING = {"id": "no-image", "text": "a post whose image is gone", "image": "images/gone.jpg"}


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> Path:
    """Two shards of generated posts with images (shards/a.jsonl holds a bad line and a
    post whose image is missing); the images are under the generated folder."""
    from mmkp.data.synthetic import generate

    root = tmp_path_factory.mktemp("ray")
    data = generate(root / "gen", n_train=10, n_dev=0, n_test=0, seed=3)
    lines = Path(data.train).read_text().splitlines()
    folder = root / "gen" / "shards"
    folder.mkdir()
    (folder / "a.jsonl").write_text("\n".join([*lines[:4], BAD_LINE, json.dumps(MISSING)]) + "\n")
    (folder / "b.jsonl").write_text("\n".join(lines[4:]) + "\n")
    return folder


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def same_prepared(ray_out: Path, local_out: Path) -> None:
    assert lines(ray_out / "posts.jsonl") == lines(local_out / "posts.jsonl")
    assert lines(ray_out / "errors.jsonl") == lines(local_out / "errors.jsonl")
    a, b = FeatureStore.open(ray_out / "features"), FeatureStore.open(local_out / "features")
    assert list(a.ids) == list(b.ids)
    for post_id in a.ids:  # float16 grids; thread counts may reorder sums
        np.testing.assert_allclose(a.get(post_id), b.get(post_id), rtol=1e-2, atol=1e-3)


def test_ray_prepare_equals_local_and_a_restart_skips_finished_shards(shards, tmp_path, capsys):
    config = PrepareConfig(batch_size=4)
    images = shards.parent
    for shard in ("a", "b"):
        prepare(shards / f"{shard}.jsonl", tmp_path / "local" / shard, images_dir=images,
                config=config)  # fmt: skip
    out = tmp_path / "ray"
    job = prepare_shards(str(shards / "*.jsonl"), out, images_dir=images, config=config,
                         options=OPTIONS)  # fmt: skip
    assert (job.shards, job.skipped) == (["a.jsonl", "b.jsonl"], [])
    assert (job.summary.posts, job.summary.bad_lines, job.summary.image_failures) == (11, 1, 1)
    for shard in ("a", "b"):
        same_prepared(out / shard, tmp_path / "local" / shard)
    errors = lines(out / "a" / "errors.jsonl")
    assert errors[0] | {"reason": ""} == {"id": None, "stage": "input", "line": 5, "reason": ""}
    assert errors[1]["id"] == "no-image" and errors[1]["stage"] == "image"

    shutil.rmtree(out / "b")  # as if the job had been killed before shard b
    flags = ["--images", str(images), "--batch-size", "4", "--ray-batch-size", "4"]
    assert main(["prepare", "--engine", "ray", "--input", str(shards / "*.jsonl"),
                 "--out", str(out), *flags]) == 0  # fmt: skip
    assert "1 shards finished before, skipped" in capsys.readouterr().out
    same_prepared(out / "b", tmp_path / "local" / "b")


def test_ray_predict_equals_local_with_errors_per_shard(shards, tmp_path, capsys):
    model = save_tiny_checkpoint(tmp_path / "model")
    images = str(shards.parent)
    for shard in ("a", "b"):
        local = ["predict", "--model", str(model), "--input", str(shards / f"{shard}.jsonl")]
        assert main([*local, "--images", images, "--out", str(tmp_path / f"{shard}.jsonl")]) == 0
    out = tmp_path / "ray"
    job = predict_shards(model, str(shards / "*.jsonl"), out, images_dir=images, options=OPTIONS)
    assert (job.predicted, job.bad_lines, job.image_problems) == (11, 1, 1)
    for shard in ("a", "b"):
        ours, theirs = lines(out / f"{shard}.jsonl"), lines(tmp_path / f"{shard}.jsonl")
        assert [(p["id"], p["keyphrases"]) for p in ours] == [
            (p["id"], p["keyphrases"]) for p in theirs
        ]
        for a, b in zip(ours, theirs, strict=True):
            assert a["scores"] == pytest.approx(b["scores"], rel=1e-5, abs=1e-6)
    ours_a = lines(out / "a.jsonl")
    errors = lines(out / "a.errors.jsonl")
    assert [(e["id"], e["stage"]) for e in errors] == [(None, "input"), ("no-image", "image")]
    assert lines(out / "b.errors.jsonl") == []

    (out / "a.jsonl").unlink()  # a restarted job redoes only the unfinished shard
    capsys.readouterr()
    command = ["predict", "--engine", "ray", "--model", str(model), "--images", images]
    assert main([*command, "--input", str(shards / "*.jsonl"), "--out", str(out)]) == 0
    assert "5 posts in 1 shards" in capsys.readouterr().err
    assert lines(out / "a.jsonl") == ours_a

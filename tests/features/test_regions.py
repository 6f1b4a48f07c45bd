"""User-supplied detector regions -> the feature store (`mmkp prepare --regions`): each
layout the CMKP / bottom-up-attention scripts write, the key a post is found under, the fixed
region count, resuming, and one error line per unusable post or file."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pytest

from mmkp.cli.main import main
from mmkp.data.jsonl import read_posts, write_posts
from mmkp.data.record import Post
from mmkp.features.regions import REGION_BACKBONE, fit_regions, open_regions, prepare_regions
from mmkp.features.store import FeatureStore

DIM = 6


def regions(seed: int, count: int) -> np.ndarray:
    """(count, DIM) positive features, exactly representable in float16."""
    rng = np.random.default_rng(seed)
    return (rng.integers(1, 64, size=(count, DIM)) / 8).astype(np.float32)


@pytest.fixture
def posts_file(tmp_path: Path) -> Path:
    posts = [
        Post(id="p1", text="by id", image=None),
        Post(id="p2", text="by file name", image="https://pbs.example/media/img2.jpg"),
        Post(id="p3", text="by stem", image="images/img3.jpg"),
        Post(id="p4", text="no regions anywhere", image="images/img4.jpg"),
    ]
    path = tmp_path / "posts.jsonl"
    write_posts(path, posts)
    return path


def test_a_folder_of_npy_and_npz_files_is_stored_with_a_fixed_count(tmp_path, posts_file):
    folder = tmp_path / "regions"
    folder.mkdir()
    np.save(folder / "p1.npy", regions(1, 5))  # more than the count: the first 3 kept
    np.savez(folder / "img2.jpg.npz", x=regions(2, 2).T, bbox=np.zeros((2, 4)))  # C x N
    np.savez(folder / "img3.npz", features=regions(3, 3), boxes=np.ones((3, 4)))
    out = tmp_path / "out"

    summary = prepare_regions(posts_file, out, regions=folder, count=3)

    assert (summary.stored, summary.missing, summary.failed) == (3, 1, 0)
    store = FeatureStore.open(out / "features")
    assert (store.backbone, store.regions, store.dim) == (REGION_BACKBONE, 3, DIM)
    np.testing.assert_array_equal(store.get("p1"), regions(1, 5)[:3])
    padded = store.get("p2")
    np.testing.assert_array_equal(padded[:2], regions(2, 2))
    assert not padded[2].any()  # the padding row the models mask out
    np.testing.assert_array_equal(store.get("p3"), regions(3, 3))
    assert store.get("p4") is None
    flags = {post.id: post.extra["has_image"] for post in read_posts(out / "posts.jsonl")}
    assert flags == {"p1": True, "p2": True, "p3": True, "p4": False}
    errors = [json.loads(line) for line in (out / "errors.jsonl").read_text().splitlines()]
    assert errors == [
        {
            "id": "p4",
            "stage": "regions",
            "reason": "no region features under 'p4', 'img4.jpg', 'img4'",
        }
    ]

    again = prepare_regions(posts_file, out, regions=folder, count=3)  # resumes
    assert (again.stored, again.skipped) == (0, 3)
    assert len(FeatureStore.open(out / "features")) == 3


def test_many_image_npz_and_bottom_up_tsv_files(tmp_path, posts_file):
    npz = tmp_path / "valid.npz"
    ids = np.array(["p1", "img2.jpg", "img3.jpg"])
    features = np.stack([regions(i, 4) for i in (1, 2, 3)])
    np.savez(npz, image_ids=ids, features=features, boxes=np.zeros((3, 4, 4)))
    tsv = tmp_path / "butd.tsv"
    with open(tsv, "w") as handle:
        for key, grid in zip(ids, features, strict=True):
            boxes = base64.b64encode(np.zeros((4, 4), np.float32).tobytes()).decode()
            feats = base64.b64encode(grid.tobytes()).decode()
            handle.write(f"{key}\t640\t480\t4\t{boxes}\t{feats}\n")

    for source in (npz, tsv):
        lookup = open_regions(source)
        np.testing.assert_array_equal(lookup("img2.jpg"), features[1])
        assert lookup("img4.jpg") is None
        out = tmp_path / source.suffix[1:]
        assert prepare_regions(posts_file, out, regions=source, count=4).stored == 3
        np.testing.assert_array_equal(FeatureStore.open(out / "features").get("p3"), features[2])


def test_cmkp_h5_files_are_read_when_h5py_is_installed(tmp_path):
    h5py = pytest.importorskip("h5py")
    path = tmp_path / "valid.h5"
    with h5py.File(path, "w") as handle:
        handle.create_dataset("image_ids", data=["a.jpg", "b.jpg"], dtype=h5py.string_dtype())
        handle.create_dataset("features", data=np.stack([regions(1, 3), regions(2, 3)]))
        handle.create_dataset("boxes", data=np.zeros((2, 3, 4)))
    np.testing.assert_array_equal(open_regions(path)("b.jpg"), regions(2, 3))


def test_unusable_regions_are_one_error_line_each(tmp_path, posts_file):
    folder = tmp_path / "regions"
    folder.mkdir()
    np.save(folder / "p1.npy", regions(1, 2))
    bad = regions(2, 2)
    bad[0, 0] = np.nan
    np.save(folder / "img2.npy", bad)
    np.save(folder / "img3.npy", np.ones((2, DIM + 1), np.float32))  # other channels
    out = tmp_path / "out"

    summary = prepare_regions(posts_file, out, regions=folder)

    assert (summary.stored, summary.failed, summary.missing) == (1, 2, 1)
    lines = (out / "errors.jsonl").read_text().splitlines()
    reasons = {error["id"]: error["reason"] for error in map(json.loads, lines)}
    assert reasons["p2"] == "image 'img2': features hold NaN or infinite values"
    assert reasons["p3"] == f"{DIM + 1} channels, not the store's {DIM}"


def test_fit_regions_trims_and_pads():
    kept = fit_regions(regions(0, 2), 4)
    assert kept.shape == (4, DIM) and kept.dtype == np.float16
    assert kept[:2].all() and not kept[2:].any()


def test_the_cli_stores_regions_and_names_a_bad_source(tmp_path, posts_file, capsys):
    folder = tmp_path / "regions"
    folder.mkdir()
    np.save(folder / "p1.npy", regions(1, 2))
    out = tmp_path / "out"
    args = ["prepare", "--input", str(posts_file), "--out", str(out), "--regions", str(folder)]
    assert main([*args, "--region-count", "2"]) == 0
    assert "1 regions stored" in capsys.readouterr().out
    assert FeatureStore.open(out / "features").regions == 2

    empty = tmp_path / "empty"
    empty.mkdir()
    assert main([*args[:-1], str(empty)]) == 2
    assert f"{empty}: no .npy or .npz region files in this folder" in capsys.readouterr().err
    wrong = tmp_path / "feats.npz"
    np.savez(wrong, something=np.zeros(3))
    assert main([*args[:-1], str(wrong)]) == 2
    err = capsys.readouterr().err
    assert "needs arrays 'image_ids' and 'features' (found ['something'])" in err
    assert "Traceback" not in err

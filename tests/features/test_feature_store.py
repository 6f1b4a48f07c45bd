from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mmkp.features.store import FeatureStore, FeatureWriter


def _grids(n: int, dim: int = 8, start: int = 0) -> np.ndarray:
    values = np.arange(start, start + n * 49 * dim, dtype=np.float32) / 7.0
    return values.reshape(n, 49, dim).astype(np.float16)


def test_round_trip(tmp_path: Path) -> None:
    writer = FeatureWriter(tmp_path, backbone="efficientnet-lite0", dim=8)
    grids = _grids(3)
    writer.append(["a", "b", "c"], grids)
    store = FeatureStore.open(tmp_path)
    assert (store.backbone, store.dim, len(store), store.ids) == (
        "efficientnet-lite0",
        8,
        3,
        ["a", "b", "c"],
    )
    got = store.get("b")
    assert got is not None and got.dtype == np.float16 and got.shape == (49, 8)
    assert np.array_equal(got, grids[1])
    assert store.get("zzz") is None
    assert "c" in store and "zzz" not in store


def test_resumed_appends_and_errors(tmp_path: Path) -> None:
    FeatureWriter(tmp_path, backbone="vgg19", dim=8).append(["a"], _grids(1))
    writer = FeatureWriter(tmp_path, backbone="vgg19", dim=8)
    assert "a" in writer
    writer.append(["b", "c"], _grids(2, start=5))
    store = FeatureStore.open(tmp_path)
    assert store.ids == ["a", "b", "c"]
    assert np.array_equal(store.get("c"), _grids(2, start=5)[1])
    with pytest.raises(ValueError, match=r"already has grids for \['a'\]"):
        writer.append(["a"], _grids(1))
    with pytest.raises(ValueError, match=r"do not match 2 ids x \(49, 8\)"):
        writer.append(["x", "y"], _grids(1))
    with pytest.raises(ValueError, match="holds vgg19 grids of dim 8, not vgg16 of dim 8"):
        FeatureWriter(tmp_path, backbone="vgg16", dim=8)


def test_torn_tail_is_ignored_then_repaired(tmp_path: Path) -> None:
    FeatureWriter(tmp_path, backbone="vgg19", dim=8).append(["a", "b"], _grids(2))
    # A kill during the next append: a partial row and a half-written id line.
    with open(tmp_path / "grids.f16", "ab") as handle:
        handle.write(b"\x01" * 300)
    with open(tmp_path / "index.jsonl", "a") as handle:
        handle.write('"c')
    assert FeatureStore.open(tmp_path).ids == ["a", "b"]
    writer = FeatureWriter(tmp_path, backbone="vgg19", dim=8)
    assert (tmp_path / "grids.f16").stat().st_size == 2 * 49 * 8 * 2
    writer.append(["c"], _grids(1, start=3))
    store = FeatureStore.open(tmp_path)
    assert store.ids == ["a", "b", "c"]
    assert np.array_equal(store.get("c"), _grids(1, start=3)[0])


def test_rows_without_ids_are_ignored(tmp_path: Path) -> None:
    # Killed after the rows were written but before their ids were.
    FeatureWriter(tmp_path, backbone="vgg19", dim=8).append(["a"], _grids(1))
    with open(tmp_path / "grids.f16", "ab") as handle:
        handle.write(_grids(1).tobytes())
    assert FeatureStore.open(tmp_path).ids == ["a"]


def test_open_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="is not a feature store"):
        FeatureStore.open(tmp_path)
    (tmp_path / "meta.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(ValueError, match="unknown feature store format 'other'"):
        FeatureStore.open(tmp_path)


def test_empty_store(tmp_path: Path) -> None:
    FeatureWriter(tmp_path, backbone="vgg19", dim=8)
    store = FeatureStore.open(tmp_path)
    assert len(store) == 0 and store.get("a") is None and store.dim == 8

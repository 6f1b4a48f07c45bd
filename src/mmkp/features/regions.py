"""Object-detector region features supplied by the user (bottom-up attention, BUTD) -> the
feature store, as `mmkp prepare --regions PATH` runs it.

No object detector with weights installs offline here, so the regions come from the user's
own extraction, in the layouts the CMKP feature scripts and the bottom-up-attention tools
write (36 x 2048 Faster R-CNN features per image in the BUTD setting):

    DIR/<key>.npy     one image: features (N, C)
    DIR/<key>.npz     one image: `features` or `x` (N, C; `x` may be stored C x N), and
                      optionally `boxes` or `bbox` (N, 4)
    FILE.h5 / .hdf5   many images (CMKP's convert_tsv_to_h5): `image_ids` (M,) strings,
                      `features` (M, N, C), optionally `boxes` (M, N, 4); needs h5py
    FILE.npz          many images: the same `image_ids` and `features` arrays
    FILE.tsv          bottom-up-attention's generate_tsv rows: image_id, image_w, image_h,
                      num_boxes, boxes, features (base64 float32)

A post's regions are found under its id, its image's file name (the last part of its path or
URL: CMKP's image id) or that name without its extension. Every grid of a store has the same
N rows: an image with more regions keeps its first N (detectors write them by confidence),
one with fewer is padded with zero rows, which the models read as padding
(`mmkp.model.modules.regions.region_mask`). Boxes orient and check the features; they are
not stored.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mmkp.data.errors import ErrorLog
from mmkp.data.jsonl import read_posts, write_posts
from mmkp.data.record import Post
from mmkp.features.store import META, FeatureStore, FeatureWriter
from mmkp.io import atomic_open, input_file, output_dir

REGION_BACKBONE = "detector-regions"  # the store's backbone name: not a CNN the package runs
DEFAULT_COUNT = 36  # regions per image in the BUTD setting (MIN_BOXES = MAX_BOXES = 36)
FEATURE_KEYS, BOX_KEYS, ID_KEYS = ("features", "x"), ("boxes", "bbox"), ("image_ids", "image_id")
TSV_FIELDS = 6  # image_id, image_w, image_h, num_boxes, boxes, features
WRITE_EVERY = 256  # posts per append to the store

Lookup = Callable[[str], np.ndarray | None]  # key -> (N, C) features; None: not there


class RegionError(ValueError):
    """One image's features are unusable (the post is reported, the run goes on)."""


def open_regions(path: str | Path) -> Lookup:
    """The region features at `path` (a folder of per-image files, or one .h5/.npz/.tsv file
    of many images) as a lookup by image key. A file no image can be read from raises a
    ValueError naming it."""
    path = Path(path)
    if path.is_dir():
        files = {f.stem: f for f in sorted(path.iterdir()) if f.suffix in (".npy", ".npz")}
        if not files:
            raise ValueError(f"{path}: no .npy or .npz region files in this folder")
        return lambda key: None if key not in files else _one_image(files[key])
    suffix = input_file(path).suffix.lower()
    if suffix in (".h5", ".hdf5"):
        return _h5(path)
    if suffix == ".npz":
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
        return _many(path, arrays)
    if suffix == ".tsv":
        return _tsv(path)
    raise ValueError(f"{path}: region features must be a folder or a .h5, .npz or .tsv file")


def _pick(arrays: dict[str, np.ndarray], keys: tuple[str, ...]) -> np.ndarray | None:
    return next((arrays[key] for key in keys if key in arrays), None)


def _oriented(features: np.ndarray, boxes: np.ndarray | None, where: str) -> np.ndarray:
    """(N, C) features: a 2-D array, turned when the boxes say it is stored C x N."""
    if features.ndim != 2:
        raise RegionError(f"{where}: features must be (regions, channels), got {features.shape}")
    if boxes is not None:
        regions = len(boxes)
        if features.shape[0] != regions and features.shape[1] == regions:
            features = features.T
        if features.shape[0] != regions:
            raise RegionError(f"{where}: {regions} boxes but features of shape {features.shape}")
    return features


def _one_image(file: Path) -> np.ndarray:
    try:
        if file.suffix == ".npy":
            return _oriented(np.load(file, allow_pickle=False), None, str(file))
        with np.load(file, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (OSError, ValueError) as exc:
        raise RegionError(f"{file}: not a readable numpy file ({exc})") from exc
    features = _pick(arrays, FEATURE_KEYS)
    if features is None:
        raise RegionError(f"{file}: no array named {' or '.join(FEATURE_KEYS)}")
    return _oriented(features, _pick(arrays, BOX_KEYS), str(file))


def _ids(values: np.ndarray) -> list[str]:
    return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in values.tolist()]


def _many(path: Path, arrays: dict) -> Lookup:
    """A lookup over the `image_ids` / `features` (/ `boxes`) arrays of a many-image file."""
    ids, features = _pick(arrays, ID_KEYS), _pick(arrays, FEATURE_KEYS)
    if ids is None or features is None:
        raise ValueError(
            f"{path}: a file of many images needs arrays {ID_KEYS[0]!r} and {FEATURE_KEYS[0]!r}"
            f" (found {sorted(arrays)})"
        )
    if len(features.shape) != 3 or features.shape[0] != len(ids):
        raise ValueError(
            f"{path}: features must be (images, regions, channels) for {len(ids)} image ids, "
            f"got {tuple(features.shape)}"
        )
    rows = {key: row for row, key in enumerate(_ids(np.asarray(ids)))}
    boxes = _pick(arrays, BOX_KEYS)

    def lookup(key: str) -> np.ndarray | None:
        row = rows.get(key)
        if row is None:
            return None
        found = None if boxes is None else np.asarray(boxes[row])
        return _oriented(np.asarray(features[row]), found, f"{path} image {key!r}")

    return lookup


def _h5(path: Path) -> Lookup:
    try:
        import h5py
    except ImportError:
        raise ValueError(
            f"{path}: reading .h5 region features needs h5py (pip install h5py), or save them "
            "as .npz with arrays image_ids and features"
        ) from None
    try:
        handle = h5py.File(path, "r")  # stays open: rows are read as posts ask for them
    except OSError as exc:
        raise ValueError(f"{path}: not a readable HDF5 file ({exc})") from exc
    return _many(path, {key: handle[key] for key in handle})


def _tsv(path: Path) -> Lookup:
    """Rows are indexed by byte offset, so a file of many gigabytes is not held in memory."""
    offsets: dict[str, int] = {}
    with open(path, "rb") as handle:
        offset = 0
        for line in handle:
            image_id = line.split(b"\t", 1)[0].decode("utf-8", errors="replace").strip()
            if image_id:
                offsets[image_id] = offset
            offset += len(line)
    if not offsets:
        raise ValueError(f"{path}: no rows of region features")

    def lookup(key: str) -> np.ndarray | None:
        if key not in offsets:
            return None
        with open(path, "rb") as handle:
            handle.seek(offsets[key])
            fields = handle.readline().rstrip(b"\r\n").split(b"\t")
        where = f"{path} image {key!r}"
        if len(fields) != TSV_FIELDS:
            raise RegionError(f"{where}: {len(fields)} tab-separated fields, not {TSV_FIELDS}")
        try:
            count = int(fields[3])
            boxes = np.frombuffer(base64.b64decode(fields[4]), np.float32).reshape(count, 4)
            features = np.frombuffer(base64.b64decode(fields[5]), np.float32).reshape(count, -1)
        except (ValueError, binascii.Error) as exc:
            raise RegionError(f"{where}: num_boxes, boxes or features unreadable ({exc})") from exc
        return _oriented(features, boxes, where)

    return lookup


def post_keys(post: Post) -> list[str]:
    """Where a post's regions may be filed: its id, its image's file name, that name's stem."""
    keys = [post.id]
    if post.image:
        name = post.image.rstrip("/").rsplit("/", 1)[-1]
        keys += [name, name.rsplit(".", 1)[0]]
    return list(dict.fromkeys(key for key in keys if key))


def fit_regions(features: np.ndarray, count: int) -> np.ndarray:
    """(N, C) -> (count, C) float16: the first `count` regions, zero rows after the last."""
    out = np.zeros((count, features.shape[1]), dtype=np.float16)
    kept = features[:count]
    out[: len(kept)] = kept
    return out


@dataclass
class RegionSummary:
    posts: int = 0  # valid posts in the input
    bad_lines: int = 0  # input lines that are not valid posts
    stored: int = 0  # regions written by this run
    skipped: int = 0  # already in the store (an earlier run)
    missing: int = 0  # no regions under any of the post's keys
    failed: int = 0  # regions found but unusable

    def format(self) -> str:
        return (
            f"{self.posts} posts: {self.stored} regions stored, {self.skipped} already stored, "
            f"{self.missing} without regions, {self.failed} unusable; {self.bad_lines} bad "
            "input lines"
        )


def prepare_regions(
    input_path: str | Path, out: str | Path, *, regions: str | Path, count: int = DEFAULT_COUNT
) -> RegionSummary:
    """Store each post's region features (`count` x C) in `out/features/` and write
    `out/posts.jsonl` (`extra.has_image`: whether regions were stored) and `out/errors.jsonl`.
    Rerunning with the same `out` keeps what is stored and adds the rest."""
    if count < 1:
        raise ValueError(f"the region count must be >= 1, got {count}")
    out = output_dir(out)
    bad = ErrorLog()
    posts = read_posts(input_file(input_path), bad)
    lookup = open_regions(regions)
    summary = RegionSummary(posts=len(posts), bad_lines=len(bad))
    writer = _existing_store(out / "features", count)  # else opened at the first regions
    pending: dict[str, np.ndarray] = {}
    errors: list[dict[str, str]] = []
    for post in posts:
        stored = writer is not None and post.id in writer
        try:
            features = None if stored else _find(lookup, post)
            if features is not None:
                writer = writer or FeatureWriter(
                    out / "features", backbone=REGION_BACKBONE, dim=features.shape[1], regions=count
                )
                if features.shape[1] != writer.dim:
                    raise RegionError(f"{features.shape[1]} channels, not the store's {writer.dim}")
        except RegionError as exc:
            features, reason = None, str(exc)
            summary.failed += 1
        else:
            keys = ", ".join(map(repr, post_keys(post)))
            reason = None if stored or features is not None else f"no region features under {keys}"
            summary.missing += reason is not None
        post.extra["has_image"] = stored or features is not None
        summary.skipped += stored
        if reason is not None:
            errors.append({"id": post.id, "stage": "regions", "reason": reason})
        if features is not None and writer is not None:
            pending[post.id] = fit_regions(features, count)
            if len(pending) >= WRITE_EVERY:
                summary.stored += _flush(writer, pending)
    if writer is not None:
        summary.stored += _flush(writer, pending)
    write_posts(out / "posts.jsonl", posts)
    with atomic_open(out / "errors.jsonl") as handle:
        for error in bad.errors:
            line = {"id": None, "stage": "input", "line": error.line, "reason": error.problem}
            handle.write(json.dumps(line, ensure_ascii=False) + "\n")
        for entry in errors:
            handle.write(json.dumps(entry, ensure_ascii=False) + "\n")
    return summary


def _find(lookup: Lookup, post: Post) -> np.ndarray | None:
    """The post's (N, C) features under its first key that has some; checked for values."""
    for key in post_keys(post):
        features = lookup(key)
        if features is None:
            continue
        if len(features) == 0:
            raise RegionError(f"image {key!r}: no regions")
        if not np.isfinite(features).all():
            raise RegionError(f"image {key!r}: features hold NaN or infinite values")
        return features
    return None


def _existing_store(folder: Path, count: int) -> FeatureWriter | None:
    """The writer of a store an earlier run began (its channels known), else None."""
    if not (folder / META).is_file():
        return None
    dim = FeatureStore.open(folder).dim
    return FeatureWriter(folder, backbone=REGION_BACKBONE, dim=dim, regions=count)


def _flush(writer: FeatureWriter, pending: dict[str, np.ndarray]) -> int:
    if not pending:
        return 0
    writer.append(list(pending), np.stack(list(pending.values())))
    stored = len(pending)
    pending.clear()
    return stored

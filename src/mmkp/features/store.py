"""Feature store: region grids (49, C) float16 keyed by post id, memory-mapped, append-only
(or a detector's (N, C) regions, `mmkp.features.regions`).

Layout of a store folder (chosen over safetensors shards by benchmarks/features.py, see
docs/features.md):

    meta.json     {"format", "backbone", "dim", "regions", "dtype"}, written once, atomically;
                  `prepare` adds "featurizer" (its FeaturizerConfig) and "weights_sha256", which
                  training saves with the model (`mmkp.processing`)
    grids.f16     row i = the grid of the i-th id, 49 * dim float16 values, appended
    index.jsonl   one JSON string (a post id) per line, in row order, appended

An append writes and fsyncs the rows first, then their ids. A crash can therefore leave rows
without ids or a half-written last line, never an id without its row: readers use the first
min(ids, whole rows) entries and the writer truncates the tail away when it reopens the store.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mmkp.data.batch import NUM_REGIONS
from mmkp.io import read_text, write_json_atomic, write_text_atomic

FORMAT = "mmkp-features/1"
META, DATA, INDEX = "meta.json", "grids.f16", "index.jsonl"


def _read_meta(folder: Path) -> dict[str, Any]:
    path = folder / META
    if not path.is_file():
        raise FileNotFoundError(f"{folder} is not a feature store (no {META}); run mmkp prepare")
    try:
        meta = json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else meta
        raise ValueError(f"{path}: unknown feature store format {found!r}")
    for key, kind in (("backbone", str), ("dim", int)):
        if not isinstance(meta.get(key), kind) or isinstance(meta.get(key), bool):
            raise ValueError(
                f"{path}: field {key!r} must be {kind.__name__}, got {meta.get(key)!r}"
            )
    return meta


def _read_ids(folder: Path, row_bytes: int) -> list[str]:
    """Ids that have a complete row; a torn last line or rows beyond the index are ignored."""
    ids: list[str] = []
    index = folder / INDEX
    if index.is_file():
        for line in index.read_bytes().split(b"\n"):
            try:
                ids.append(str(json.loads(line)))
            except ValueError:
                break  # an empty or half-written line ends the valid part
    data = folder / DATA
    rows = data.stat().st_size // row_bytes if data.is_file() else 0
    return ids[:rows]


class FeatureStore:
    """Read-only view of a store: `get(post_id) -> (49, dim) float16 array or None`."""

    def __init__(self, folder: Path, meta: dict[str, Any], ids: list[str]):
        self.folder = folder
        self.backbone: str = meta["backbone"]
        self.dim: int = int(meta["dim"])
        self.regions: int = int(meta.get("regions", NUM_REGIONS))
        # how the grids were made, as `prepare` recorded it (None in older stores)
        self.featurizer: dict[str, Any] | None = meta.get("featurizer")
        self.weights_sha256: str | None = meta.get("weights_sha256")
        self.ids = ids
        self._rows = {post_id: row for row, post_id in enumerate(ids)}
        if len(self._rows) != len(ids):
            raise ValueError(f"{folder / INDEX} lists a post id twice")
        self._data: np.memmap | None = None
        if ids:
            self._data = np.memmap(
                folder / DATA, np.float16, "r", shape=(len(ids), self.regions, self.dim)
            )

    @classmethod
    def open(cls, folder: str | Path) -> FeatureStore:
        folder = Path(folder)
        meta = _read_meta(folder)
        row_bytes = int(meta.get("regions", NUM_REGIONS)) * int(meta["dim"]) * 2
        return cls(folder, meta, _read_ids(folder, row_bytes))

    def get(self, post_id: str) -> np.ndarray | None:
        """The post's grid as a (regions, dim) float16 array (a copy), None if absent."""
        row = self._rows.get(post_id)
        if row is None or self._data is None:
            return None
        return np.array(self._data[row])

    def __contains__(self, post_id: object) -> bool:
        return post_id in self._rows

    def __len__(self) -> int:
        return len(self.ids)


class FeatureWriter:
    """Appends grids to a store, creating it or resuming it (after repairing a torn tail).
    `regions` is the row count of every grid: the CNN's 49, or a detector's N regions
    (`mmkp.features.regions`)."""

    def __init__(
        self,
        folder: str | Path,
        *,
        backbone: str,
        dim: int,
        regions: int = NUM_REGIONS,
        recorded: dict[str, Any] | None = None,
    ):
        self.folder = Path(folder)
        self.dim = dim
        self.regions = regions
        self.row_bytes = regions * dim * 2
        if (self.folder / META).is_file():
            meta = _read_meta(self.folder)
            stored = int(meta.get("regions", NUM_REGIONS))
            if meta["backbone"] != backbone or int(meta["dim"]) != dim or stored != regions:
                counts = f" ({stored} regions, not {regions})" if stored != regions else ""
                raise ValueError(
                    f"feature store {self.folder} holds {meta['backbone']} grids of dim "
                    f"{meta['dim']}, not {backbone} of dim {dim}{counts}: use another --out "
                    "folder"
                )
        else:
            self.folder.mkdir(parents=True, exist_ok=True)
            meta = {"format": FORMAT, "backbone": backbone, "dim": dim, "regions": regions}
            # `recorded`: what made the grids (prepare's "featurizer" and "weights_sha256")
            write_json_atomic(self.folder / META, meta | {"dtype": "float16"} | (recorded or {}))
        self.ids = _read_ids(self.folder, self.row_bytes)
        self._known = set(self.ids)
        self._repair()

    def _repair(self) -> None:
        """Cut rows without ids and index lines without rows left by an interrupted append."""
        data, index = self.folder / DATA, self.folder / INDEX
        with open(data, "ab") as handle:
            handle.truncate(len(self.ids) * self.row_bytes)
        text = "".join(json.dumps(post_id) + "\n" for post_id in self.ids)
        if not index.is_file() or index.read_text(encoding="utf-8") != text:
            write_text_atomic(index, text)

    def __contains__(self, post_id: object) -> bool:
        return post_id in self._known

    def append(self, ids: Sequence[str], grids: np.ndarray) -> None:
        """Add `grids` (N, regions, dim) for `ids`; an id already stored is an error."""
        if grids.shape != (len(ids), self.regions, self.dim):
            raise ValueError(
                f"grids of shape {grids.shape} do not match {len(ids)} ids x "
                f"({self.regions}, {self.dim})"
            )
        repeated = [post_id for post_id in ids if post_id in self._known]
        if repeated or len(set(ids)) != len(ids):
            raise ValueError(f"feature store {self.folder} already has grids for {repeated}")
        _append(self.folder / DATA, np.ascontiguousarray(grids, dtype=np.float16).tobytes())
        _append(self.folder / INDEX, "".join(json.dumps(i) + "\n" for i in ids).encode("utf-8"))
        self.ids.extend(ids)
        self._known.update(ids)


def _append(path: Path, data: bytes) -> None:
    with open(path, "ab") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())

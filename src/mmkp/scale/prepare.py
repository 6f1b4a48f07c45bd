"""`mmkp prepare --engine ray --input 'shards/*.jsonl' --out DIR`: `prepare` on Ray Data.

Each shard gets the local engine's outputs in DIR/<shard name>/ (posts.jsonl, features/,
errors.jsonl, journal.jsonl), written by the same `PreparedOutput`; the images are featurized
by `Featurize` actors, each loading the OCR engine, entity provider and CNN once. A shard
whose errors.jsonl exists (written last) is finished, and a restarted job skips it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mmkp.data.errors import ErrorLog
from mmkp.data.record import Post
from mmkp.features import backbones
from mmkp.features.featurizer import ImageFeaturizer
from mmkp.features.posts import FeaturizedPost, featurize_posts
from mmkp.features.prepare import (
    PrepareConfig,
    PreparedOutput,
    PrepareSummary,
    count,
    with_ocr_threads,
)
from mmkp.io import output_dir
from mmkp.scale.engine import (
    RayOptions,
    bad_line,
    by_shard,
    columns,
    find_shards,
    image_base,
    posts_of,
    ray_session,
    run_shards,
)

FINISHED = "errors.jsonl"  # prepare writes it last


class Featurize:
    """The Ray actor: `__init__` loads the featurizer once, `__call__` featurizes a batch of
    rows as `prepare` does (`featurize_posts`) and returns each post enriched, its grid and
    its errors."""

    def __init__(self, config: PrepareConfig, images_dir: str | None, threads: int) -> None:
        torch.set_num_threads(threads)
        self.featurizer = ImageFeaturizer(with_ocr_threads(config, 1))
        self.images_dir = images_dir

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        size = len(batch["line"])
        records, errors, grids = [""] * size, ["[]"] * size, [b""] * size
        for shard in sorted(set(batch["shard"])):
            rows = [(i, p) for i, p in posts_of(batch) if batch["shard"][i] == shard]
            base = image_base(shard, self.images_dir)
            done = featurize_posts(self.featurizer, [post for _, post in rows], base)
            for (i, _), item in zip(rows, done, strict=True):
                records[i] = json.dumps(item.post.to_dict(), ensure_ascii=False)
                errors[i] = json.dumps(item.errors, ensure_ascii=False)
                grids[i] = b"" if item.grid is None else item.grid.astype(np.float16).tobytes()
        return columns(batch, record=records, errors=errors, grid=grids)


@dataclass
class ShardedPrepare:
    """What a Ray prepare job did: the posts' counts over the shards it ran, and the
    shards finished by an earlier job (skipped)."""

    summary: PrepareSummary = field(default_factory=PrepareSummary)
    shards: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def prepare_shards(
    pattern: str,
    out: str | Path,
    *,
    images_dir: str | Path | None = None,
    config: PrepareConfig | None = None,
    options: RayOptions | None = None,
) -> ShardedPrepare:
    """`prepare` every shard matching `pattern` into out/<shard name>/ on Ray."""
    config, options = config or PrepareConfig(), options or RayOptions()
    out = output_dir(out)
    started = time.monotonic()
    result = ShardedPrepare()
    todo = []
    for shard in find_shards(pattern):
        finished = (out / shard.stem / FINISHED).is_file()
        (result.skipped if finished else todo).append(shard)
    result.skipped = [s.name for s in result.skipped]
    if todo:
        args = {
            "config": config,
            "images_dir": None if images_dir is None else str(images_dir),
            "threads": max(1, int(options.num_cpus)),
        }
        with ray_session(options) as ray:
            rows = run_shards(ray, todo, Featurize, args, options)
            for shard, shard_rows in by_shard(rows):
                _write_shard(shard_rows, shard, output_dir(out / shard.stem), config, result)
                result.shards.append(shard.name)
        for shard in todo:  # a shard without a line gives no row, yet is finished
            if shard.name not in result.shards:
                _write_shard(iter(()), shard, output_dir(out / shard.stem), config, result)
                result.shards.append(shard.name)
    result.summary.seconds = time.monotonic() - started
    return result


def _write_shard(
    rows: Any, shard: Path, out: Path, config: PrepareConfig, result: ShardedPrepare
) -> None:
    """One shard's rows -> its outputs, as `prepare` writes them."""
    output = PreparedOutput(config, out)
    grid = backbones.spec(config.backbone)
    shape = (grid.grid_side * grid.grid_side, grid.channels)
    bad, ids, pending = ErrorLog(), [], []
    summary = result.summary
    for row in rows:
        if bad_line(shard, row, bad):
            summary.bad_lines += 1
            continue
        post = Post.from_dict(json.loads(row["record"]))
        raw = row["grid"]
        grid_rows = np.frombuffer(raw, dtype=np.float16).reshape(shape) if raw else None
        pending.append(FeaturizedPost(post, grid_rows, json.loads(row["errors"])))
        ids.append(post.id)
        if len(pending) == config.batch_size:
            count(summary, output.add(pending))
            pending = []
    if pending:
        count(summary, output.add(pending))
    summary.posts += len(ids)
    output.finish(ids, bad)

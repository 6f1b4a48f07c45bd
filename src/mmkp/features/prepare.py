"""`prepare`: posts JSONL -> enriched JSONL (OCR X_O, entities X_E) + feature store (grids V).

Outputs under `out/`: `posts.jsonl` (every input post, in input order, `extra.has_image` says
whether its image was used), `features/` (FeatureStore keyed by post id), `errors.jsonl` (one
line per problem: post id, stage, reason) and `journal.jsonl` (the resume log). Work goes in
batches; after each batch its grids and records are fsynced, so a killed run loses at most
that batch and the next run skips every finished post.

No single post can stop a run: whatever loading or featurizing its image raises becomes that
post's error (`stage` "image" or "features"; a batch that fails is redone image by image, so
the others keep their features) and the post is journalled as failed. A rerun skips failed
posts too, so one bad image never blocks resuming; `retry_failed` (`--retry-failed`) gives
them another try (a download that timed out, a file fixed since). Only problems no post can
get past stop the run: the entity service refusing (credentials, quota) or the disk.

Everything per image (loading, OCR, entities, grids) is `ImageFeaturizer`'s, the code the
predictor uses for one image; `prepare` adds the posts' fields, the store, the journal and
errors.jsonl. Both cores work at once: the featurizer runs OCR in a worker thread
(onnxruntime releases the GIL) on one core while the CNN runs on the others, whose count
`prepare` sets for torch during the run and restores after.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from mmkp.config_loader import to_dict
from mmkp.data.errors import ErrorLog, RecordError
from mmkp.data.jsonl import read_posts, write_posts
from mmkp.data.record import Post
from mmkp.features import backbones
from mmkp.features.featurizer import FeaturizerConfig, ImageFeaturizer
from mmkp.features.journal import Finished, Journal
from mmkp.features.posts import FeaturizedPost, featurize_posts
from mmkp.features.store import FeatureWriter
from mmkp.io import atomic_open, input_file, output_dir


@dataclass(frozen=True)
class PrepareConfig(FeaturizerConfig):
    """The featurizer's models and limits, and how `prepare` runs them over a file."""

    batch_size: int = 16
    progress: bool = False  # tqdm bar with rate and ETA (the CLI turns it on)
    retry_failed: bool = False  # redo posts an earlier run journalled as failed


@dataclass
class PrepareSummary:
    posts: int = 0  # valid posts in the input
    bad_lines: int = 0  # input lines that are not valid posts
    skipped: int = 0  # finished by an earlier run
    skipped_failures: int = 0  # of those, failed ones (`retry_failed` redoes them)
    processed: int = 0  # handled by this run
    with_image: int = 0  # processed with a usable image
    without_image: int = 0  # processed, no image given
    image_failures: int = 0  # processed, image missing / corrupt / too large
    entity_failures: int = 0  # image fine, entity provider failed for it
    seconds: float = 0.0

    def format(self) -> str:
        rate = self.processed / self.seconds if self.seconds > 0 else 0.0
        failed = (
            f" ({self.skipped_failures} failed then; --retry-failed retries them)"
            if self.skipped_failures
            else ""
        )
        return (
            f"{self.posts} posts: {self.skipped} already done{failed}, {self.processed} processed "
            f"({self.with_image} with image, {self.without_image} without, "
            f"{self.image_failures} image failures, {self.entity_failures} entity failures) "
            f"in {self.seconds:.1f} s ({rate:.1f} posts/s); {self.bad_lines} bad input lines"
        )


class PreparedOutput:
    """What `prepare` writes into `out` around the featurizer: the feature store and the
    journal as posts finish, posts.jsonl and errors.jsonl at the end (`finish`). The Ray
    engine (`mmkp.scale`) writes each shard's outputs with it too."""

    def __init__(self, config: PrepareConfig, out: Path):
        grid = backbones.spec(config.backbone)
        self.out = out
        self.store = FeatureWriter(
            out / "features",
            backbone=config.backbone,
            dim=grid.channels,
            regions=grid.grid_side * grid.grid_side,
            recorded=_recorded(config),
        )
        self.journal = Journal(out / "journal.jsonl")

    def add(self, done: Sequence[FeaturizedPost]) -> list[Finished]:
        """Store the grids the store lacks (a resumed run may have written some already),
        then journal the posts."""
        new = [item for item in done if item.grid is not None and item.post.id not in self.store]
        if new:
            grids = [item.grid for item in new]
            self.store.append([item.post.id for item in new], np.stack(grids))
        finished = [Finished(item.post, item.errors) for item in done]
        self.journal.append(finished)
        return finished

    def finish(self, ids: Sequence[str], bad: ErrorLog) -> None:
        """posts.jsonl (the posts `ids`, in input order) and errors.jsonl, each replaced
        atomically."""
        finished = [self.journal.finished[post_id] for post_id in ids]
        write_posts(self.out / "posts.jsonl", [entry.post for entry in finished])
        with atomic_open(self.out / "errors.jsonl") as handle:
            for error in bad.errors:
                handle.write(json.dumps(input_error(error), ensure_ascii=False) + "\n")
            for entry in finished:
                for error in entry.errors:
                    line = {"id": entry.post.id, **error}
                    handle.write(json.dumps(line, ensure_ascii=False) + "\n")


def input_error(error: RecordError) -> dict[str, Any]:
    """A bad input line as an errors.jsonl line (prepare's, and the Ray engine's)."""
    return {"id": None, "stage": "input", "line": error.line, "reason": error.problem}


def prepare(
    input_path: str | Path,
    out: str | Path,
    *,
    images_dir: str | Path | None = None,
    config: PrepareConfig | None = None,
) -> PrepareSummary:
    """Run OCR, entities and grid features over every post of `input_path` (resumable)."""
    config = config or PrepareConfig()
    if config.batch_size < 1:
        raise ValueError(f"batch size must be >= 1, got {config.batch_size}")
    input_path = input_file(input_path)
    out = output_dir(out)
    base = Path(images_dir) if images_dir is not None else input_path.parent
    if base.is_file():
        raise NotADirectoryError(f"{base}: is a file, not the image folder")
    if not base.is_dir():
        raise FileNotFoundError(f"{base}: no such image folder")
    started = time.monotonic()
    bad = ErrorLog()
    posts = read_posts(input_path, bad)
    summary = PrepareSummary(posts=len(posts), bad_lines=len(bad))
    cores = os.cpu_count() or 1
    ocr_threads = 1 if cores > 1 else 0  # 0: onnxruntime picks; one core shares anyway
    torch_threads = max(1, cores - 1) if config.ocr else cores
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(torch_threads)
    try:
        with ImageFeaturizer(with_ocr_threads(config, ocr_threads)) as featurizer:
            output = PreparedOutput(config, out)
            todo = _todo(posts, output.journal, summary, retry_failed=config.retry_failed)
            with tqdm(total=len(todo), unit="post", disable=not config.progress) as bar:
                for start in range(0, len(todo), config.batch_size):
                    chunk = todo[start : start + config.batch_size]
                    done = output.add(featurize_posts(featurizer, chunk, base))
                    count(summary, done)
                    bar.update(len(chunk))
    finally:
        torch.set_num_threads(previous_threads)
    output.finish([post.id for post in posts], bad)
    summary.seconds = time.monotonic() - started
    return summary


def _recorded(config: PrepareConfig) -> dict[str, Any]:
    """The featurizer settings and weights' identity the store keeps for training to save
    with the model, so prediction featurizes images the same way (`mmkp.processing`)."""
    featurizer = {f.name: getattr(config, f.name) for f in fields(FeaturizerConfig)}
    return {
        "featurizer": to_dict(FeaturizerConfig(**featurizer)),
        "weights_sha256": backbones.weights_sha256(config.backbone, config.weights),
    }


def with_ocr_threads(config: PrepareConfig, threads: int) -> PrepareConfig:
    """The featurizer's config with prepare's OCR thread count, so OCR keeps to its core."""
    return replace(config, ocr_config=replace(config.ocr_config, threads=threads))


def _todo(
    posts: list[Post], journal: Journal, summary: PrepareSummary, *, retry_failed: bool
) -> list[Post]:
    """The posts an earlier run did not finish (or failed, with `retry_failed`); counts the
    others in `summary`."""
    todo = []
    for post in posts:
        if journal.done(post.id, retry_failed=retry_failed):
            summary.skipped += 1
            summary.skipped_failures += journal.finished[post.id].failed
        else:
            todo.append(post)
    return todo


def count(summary: PrepareSummary, done: list[Finished]) -> None:
    for entry in done:
        summary.processed += 1
        stages = {error["stage"] for error in entry.errors}
        if entry.failed:
            summary.image_failures += 1
        elif entry.post.extra.get("has_image"):
            summary.with_image += 1
        else:
            summary.without_image += 1
        summary.entity_failures += "entities" in stages

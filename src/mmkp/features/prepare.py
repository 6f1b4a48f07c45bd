"""`prepare`: posts JSONL -> enriched JSONL (OCR X_O, entities X_E) + feature store (grids V).

Outputs under `out/`: `posts.jsonl` (every input post, in input order, `extra.has_image` says
whether its image was used), `features/` (FeatureStore keyed by post id), `errors.jsonl` (one
line per problem: post id, stage, reason) and `journal.jsonl` (the resume log). Work goes in
batches; after each batch its grids and records are fsynced, so a killed run loses at most
that batch and the next run skips every finished post (and retries posts whose image failed).

Both cores work at once: OCR runs in a worker thread (onnxruntime releases the GIL) on one
core while the CNN runs on the others.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
from PIL import Image
from tqdm import tqdm

from mmkp.data.errors import ErrorLog
from mmkp.data.jsonl import read_posts, write_posts
from mmkp.data.record import Entity, Post
from mmkp.features import backbones
from mmkp.features.entities import EntityError, EntityProvider, make_provider
from mmkp.features.entities.local import LocalEntities
from mmkp.features.grid import extract
from mmkp.features.images import ImageError, ImageLoadConfig, load_image, resolve
from mmkp.features.journal import Finished, Journal
from mmkp.features.ocr import OcrConfig, OcrEngine, OcrResult
from mmkp.features.store import FeatureWriter
from mmkp.io import atomic_open

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PrepareConfig:
    backbone: str = backbones.DEFAULT_BACKBONE
    weights: str | None = None  # weights file for the backbone (required for vgg16 / vgg19)
    entities: str = "local"  # local | precomputed | baidu
    ocr: bool = True  # False: keep the posts' own `ocr` field
    batch_size: int = 16
    ocr_config: OcrConfig = field(default_factory=OcrConfig)
    images: ImageLoadConfig = field(default_factory=ImageLoadConfig)
    progress: bool = False  # tqdm bar with rate and ETA (the CLI turns it on)


@dataclass
class PrepareSummary:
    posts: int = 0  # valid posts in the input
    bad_lines: int = 0  # input lines that are not valid posts
    skipped: int = 0  # finished by an earlier run
    processed: int = 0  # handled by this run
    with_image: int = 0  # processed with a usable image
    without_image: int = 0  # processed, no image given
    image_failures: int = 0  # processed, image missing / corrupt / too large
    entity_failures: int = 0  # image fine, entity provider failed for it
    seconds: float = 0.0

    def format(self) -> str:
        rate = self.processed / self.seconds if self.seconds > 0 else 0.0
        return (
            f"{self.posts} posts: {self.skipped} already done, {self.processed} processed "
            f"({self.with_image} with image, {self.without_image} without, "
            f"{self.image_failures} image failures, {self.entity_failures} entity failures) "
            f"in {self.seconds:.1f} s ({rate:.1f} posts/s); {self.bad_lines} bad input lines"
        )


class _Pipeline:
    """The loaded models and output writers of one run."""

    def __init__(self, config: PrepareConfig, out: Path, ocr_threads: int):
        self.config = config
        self.spec = backbones.spec(config.backbone)
        self.backbone = backbones.load_backbone(config.backbone, config.weights)
        # VGG has no ImageNet head here: local entities then come from the default classifier.
        classifier = config.backbone if self.spec.classifies else backbones.DEFAULT_BACKBONE
        self.provider: EntityProvider = make_provider(config.entities, model=classifier)
        # Same network for grid and entities: one forward pass gives both.
        self.shared: LocalEntities | None = None
        if isinstance(self.provider, LocalEntities) and classifier == config.backbone:
            self.shared = self.provider
        ocr_config = replace(config.ocr_config, threads=ocr_threads)
        self.ocr = OcrEngine(ocr_config) if config.ocr else None
        self.store = FeatureWriter(
            out / "features", backbone=config.backbone, dim=self.spec.channels
        )
        self.journal = Journal(out / "journal.jsonl")

    def run_batch(
        self, posts: Sequence[Post], base: Path, pool: ThreadPoolExecutor
    ) -> list[Finished]:
        finished = {post.id: Finished(post) for post in posts}
        loaded: list[tuple[Post, Image.Image]] = []
        for post in posts:
            # Until its image is read: no image-derived inputs (dataset entities stay when
            # the provider is `precomputed`).
            post.extra["has_image"] = False
            if self.ocr is not None:
                post.ocr = ""
                post.extra["ocr_lines"] = []
            if self.provider.name != "precomputed":
                post.entities = []
            if post.image is None:
                continue
            try:
                loaded.append((post, load_image(resolve(post.image, base), self.config.images)))
            except ImageError as exc:
                finished[post.id].errors.append({"stage": "image", "reason": exc.reason})
        images = [image for _, image in loaded]
        ocr_job = pool.submit(self._read_all, images) if self.ocr and images else None
        if images:
            self._grids_and_entities(loaded, finished)
        if ocr_job is not None:
            for (post, _), result in zip(loaded, ocr_job.result(), strict=True):
                if isinstance(result, Exception):
                    finished[post.id].errors.append({"stage": "ocr", "reason": str(result)})
                    result = OcrResult("", ())
                post.ocr = result.text
                post.extra["ocr_lines"] = [line.to_json() for line in result.lines]
        for post, _ in loaded:
            post.extra["has_image"] = True
        return list(finished.values())

    def _read_all(self, images: list[Image.Image]) -> list[OcrResult | Exception]:
        assert self.ocr is not None
        results: list[OcrResult | Exception] = []
        for image in images:
            try:
                results.append(self.ocr.read(image))
            except Exception as exc:  # one image must not end the run: it goes to errors.jsonl
                results.append(RuntimeError(f"OCR failed: {exc}"))
        return results

    def _grids_and_entities(
        self, loaded: list[tuple[Post, Image.Image]], finished: dict[str, Finished]
    ) -> None:
        posts = [post for post, _ in loaded]
        images = [image for _, image in loaded]
        batch = extract(self.backbone, images, with_probs=self.shared is not None)
        entities: Sequence[list[Entity] | EntityError]
        if self.shared is not None and batch.probs is not None:
            entities = self.shared.from_probs(batch.probs)
        else:
            entities = self.provider.recognise(posts, images)
        for post, found in zip(posts, entities, strict=True):
            if isinstance(found, EntityError):
                finished[post.id].errors.append({"stage": "entities", "reason": str(found)})
                post.entities = []
            else:
                post.entities = found
        new = [i for i, post in enumerate(posts) if post.id not in self.store]
        if new:
            self.store.append([posts[i].id for i in new], batch.grids[new])


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
    input_path, out = Path(input_path), Path(out)
    if not input_path.is_file():
        raise FileNotFoundError(f"input file {input_path} does not exist")
    base = Path(images_dir) if images_dir is not None else input_path.parent
    started = time.monotonic()
    bad = ErrorLog()
    posts = _unique(read_posts(input_path, bad), bad, input_path)
    summary = PrepareSummary(posts=len(posts), bad_lines=len(bad))
    cores = os.cpu_count() or 1
    ocr_threads = 1 if cores > 1 else 0  # 0: onnxruntime picks; one core shares anyway
    torch_threads = max(1, cores - 1) if config.ocr else cores
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(torch_threads)
    try:
        pipeline = _Pipeline(config, out, ocr_threads)
        todo = [post for post in posts if not pipeline.journal.done(post.id)]
        summary.skipped = len(posts) - len(todo)
        with (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="mmkp-ocr") as pool,
            tqdm(total=len(todo), unit="post", disable=not config.progress) as bar,
        ):
            for start in range(0, len(todo), config.batch_size):
                chunk = todo[start : start + config.batch_size]
                done = pipeline.run_batch(chunk, base, pool)
                pipeline.journal.append(done)
                _count(summary, done)
                bar.update(len(chunk))
    finally:
        torch.set_num_threads(previous_threads)
    _write_outputs(out, posts, pipeline.journal, bad)
    summary.seconds = time.monotonic() - started
    return summary


def _unique(posts: list[Post], bad: ErrorLog, source: Path) -> list[Post]:
    """Posts with distinct ids (the feature store's key); repeats are reported as bad lines."""
    from mmkp.data.errors import RecordError

    seen: set[str] = set()
    out = []
    for post in posts:
        if post.id in seen:
            bad.add(RecordError(source, None, f"post id {post.id!r} repeated; kept the first"))
            continue
        seen.add(post.id)
        out.append(post)
    return out


def _count(summary: PrepareSummary, done: list[Finished]) -> None:
    for entry in done:
        summary.processed += 1
        stages = {error["stage"] for error in entry.errors}
        if "image" in stages:
            summary.image_failures += 1
        elif entry.post.extra.get("has_image"):
            summary.with_image += 1
        else:
            summary.without_image += 1
        summary.entity_failures += "entities" in stages


def _write_outputs(out: Path, posts: list[Post], journal: Journal, bad: ErrorLog) -> None:
    """posts.jsonl in input order and errors.jsonl, each replaced atomically."""
    finished = [journal.finished[post.id] for post in posts]
    write_posts(out / "posts.jsonl", [entry.post for entry in finished])
    with atomic_open(out / "errors.jsonl") as handle:
        for error in bad.errors:
            line = {"id": None, "stage": "input", "line": error.line, "reason": error.problem}
            handle.write(json.dumps(line, ensure_ascii=False) + "\n")
        for entry in finished:
            for error in entry.errors:
                line = {"id": entry.post.id, **error}
                handle.write(json.dumps(line, ensure_ascii=False) + "\n")

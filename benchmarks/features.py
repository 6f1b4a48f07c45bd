"""Image pipeline speed and quality: OCR, entities and grid features per backbone (images/s),
the feature store layout (memory-mapped float16 + JSON index vs safetensors shards), and, on
generated multimodal posts, how much of the planted image content OCR and entities recover.

Run: .venv/bin/python benchmarks/features.py [--images N] [--posts N] [--parts speed,store,quality]
Prints markdown tables for benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors.numpy import load_file, save_file

from mmkp.data.jsonl import read_posts
from mmkp.data.synthetic import generate
from mmkp.data.synthetic_images import photo, render_text
from mmkp.features import backbones
from mmkp.features.entities.local import LocalEntities
from mmkp.features.grid import extract
from mmkp.features.ocr import OcrConfig, OcrEngine
from mmkp.features.prepare import PrepareConfig, prepare
from mmkp.features.store import FeatureStore, FeatureWriter
from mmkp.features.vgg import VGGTrunk

# Planted object -> ImageNet classes (first lemma, lowercased) that count as recognising it.
# Drawn objects with no ImageNet class (watermelon, vinyl, paw, robot, sunset) cannot count.
OBJECT_CLASSES = {
    "photo:cat": {"tabby", "tiger cat", "persian cat", "siamese cat", "egyptian cat"},
    "photo:coffee": {"espresso", "cup", "coffee mug"},
    "photo:horse": {"sorrel"},
    "photo:motorcycle": {"moped", "motor scooter", "crash helmet", "disk brake"},
    "photo:rocket": {"missile", "projectile", "space shuttle"},
    "basketball": {"basketball"},
    "spotlights": {"spotlight"},
}
# Tweet-like sizes: the generator's 320x240, a 16:9 timeline image and a phone photo.
SIZES = [(320, 240), (1200, 675), (1080, 1350)]


def tweet_images(n: int) -> list[Image.Image]:
    """Half rendered-text images, half photo crops, cycling through tweet-like sizes."""
    rng = random.Random(0)
    out = []
    for i in range(n):
        size = SIZES[i % len(SIZES)]
        if i % 2 == 0:
            out.append(render_text(size, rng.choice(["game day", "sold out", "new album"]), rng)[0])
        else:
            out.append(photo(size, rng.choice(["cat", "coffee", "rocket"]), rng))
    return out


def rate(fn: Callable[[list[Image.Image]], object], images: list[Image.Image], batch: int) -> str:
    """Wall-clock images/s, and images per CPU-second of this process (all threads): the
    second hardly depends on what else runs on the machine."""
    fn(images[:batch])  # warm-up: lazy loads, allocator
    start, cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(images), batch):
        fn(images[i : i + batch])
    wall, used = time.perf_counter() - start, time.process_time() - cpu
    return f"{len(images) / wall:.1f} | {len(images) / used:.1f}"


def speed(n: int, threads: int) -> None:
    torch.set_num_threads(threads)
    images = tweet_images(n)
    print(f"\n| stage ({threads} threads, batch 16) | images/s | images per CPU-s |")
    print("|---|---:|---:|")
    ocr = OcrEngine(OcrConfig(threads=threads))
    print(
        f"| OCR (RapidOCR PP-OCRv6 small, {threads} ORT threads) | "
        f"{rate(lambda b: [ocr.read(i) for i in b], images, 1)} |"
    )
    local = LocalEntities()
    print(
        f"| local entities (efficientnet-lite0, own pass) | "
        f"{rate(lambda b: local.recognise([], b), images, 16)} |"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for name in backbones.SPECS:
            weights = None
            if backbones.spec(name).needs_weights:  # speed does not depend on the values
                weights = Path(tmp) / f"{name}.pth"
                torch.save(VGGTrunk(name).state_dict(), weights)
            model = backbones.load_backbone(name, weights)
            print(f"| grid {name} | {rate(lambda b, m=model: extract(m, b), images, 16)} |")


def store_layouts(n: int, dim: int = 1280) -> None:
    """Write n grids in batches of 16, open, read all in random order: both layouts."""
    grids = np.random.default_rng(0).standard_normal((16, 49, dim)).astype(np.float16)
    ids = [f"post-{i}" for i in range(n)]
    order = random.Random(0).sample(ids, n)
    print(f"\n| layout ({n} grids 49x{dim} fp16) | write s | open s | random get ms |")
    print("|---|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        writer = FeatureWriter(Path(tmp) / "mm", backbone="x", dim=dim)
        for i in range(0, n, 16):
            writer.append(ids[i : i + 16], grids[: len(ids[i : i + 16])])
        write = time.perf_counter() - start
        start = time.perf_counter()
        store = FeatureStore.open(Path(tmp) / "mm")
        opened = time.perf_counter() - start
        start = time.perf_counter()
        for post_id in order:
            store.get(post_id)
        get_ms = (time.perf_counter() - start) / n * 1000
        print(f"| memmap float16 + index.jsonl | {write:.2f} | {opened:.3f} | {get_ms:.3f} |")

        folder = Path(tmp) / "st"
        folder.mkdir()
        start = time.perf_counter()
        for shard, i in enumerate(range(0, n, 16)):
            chunk = ids[i : i + 16]
            path = folder / f"{shard:06d}.st"
            save_file({k: grids[j] for j, k in enumerate(chunk)}, path)
            with open(path, "rb+") as handle:  # same durability as the memmap store's appends
                os.fsync(handle.fileno())
        write = time.perf_counter() - start
        start = time.perf_counter()
        from safetensors import safe_open

        where = {}
        for path in sorted(folder.iterdir()):
            with safe_open(str(path), "np") as handle:
                where.update({key: path for key in handle.keys()})  # noqa: SIM118
        opened = time.perf_counter() - start
        start = time.perf_counter()
        for post_id in order:
            with safe_open(str(where[post_id]), "np") as handle:
                handle.get_tensor(post_id)
        get_ms = (time.perf_counter() - start) / n * 1000
        print(f"| safetensors shards (16 per file) | {write:.2f} | {opened:.3f} | {get_ms:.3f} |")
        assert load_file(str(folder / "000000.st"))["post-0"].shape == (49, dim)


def quality(n_posts: int) -> None:
    """prepare on generated posts; OCR recovery of rendered keyphrases, object recognition."""
    with tempfile.TemporaryDirectory() as tmp:
        data = generate(tmp, n_train=n_posts, n_dev=0, n_test=0, seed=0)
        start = time.perf_counter()
        summary = prepare(data.train, Path(tmp) / "out", config=PrepareConfig())
        seconds = time.perf_counter() - start
        posts = read_posts(Path(tmp) / "out" / "posts.jsonl")
    print(f"\nprepare on {n_posts} generated posts: {summary.format()} ({seconds:.1f} s wall)")
    rendered = [p for p in posts if p.extra["planted"]["image_kind"] == "ocr"]
    exact = sum(p.ocr == p.extra["planted"]["image_keyphrase"] for p in rendered)
    inside = sum(f" {p.extra['planted']['image_keyphrase']} " in f" {p.ocr} " for p in rendered)
    drawn = [p for p in posts if p.extra["planted"]["image_kind"] == "visual"]
    known = [p for p in drawn if p.extra["planted"]["object"] in OBJECT_CLASSES]
    hits = sum(
        bool(OBJECT_CLASSES[p.extra["planted"]["object"]] & set(p.entity_names)) for p in known
    )
    print("\n| measure | share |\n|---|---:|")
    print(
        f"| rendered keyphrase = OCR text exactly | {exact}/{len(rendered)} = "
        f"{100 * exact / max(len(rendered), 1):.1f}% |"
    )
    print(
        f"| rendered keyphrase inside OCR text | {inside}/{len(rendered)} = "
        f"{100 * inside / max(len(rendered), 1):.1f}% |"
    )
    print(
        f"| object class among local entities (objects with an ImageNet class) | "
        f"{hits}/{len(known)} = {100 * hits / max(len(known), 1):.1f}% |"
    )
    print(
        f"| object class among local entities (all visual posts) | {hits}/{len(drawn)} = "
        f"{100 * hits / max(len(drawn), 1):.1f}% |"
    )
    by_object: dict[str, list[int]] = {}
    for p in known:
        obj = p.extra["planted"]["object"]
        by_object.setdefault(obj, []).append(int(bool(OBJECT_CLASSES[obj] & set(p.entity_names))))
    print("\nper object: " + ", ".join(f"{k} {sum(v)}/{len(v)}" for k, v in by_object.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=48, help="images per speed measurement")
    parser.add_argument("--posts", type=int, default=150, help="generated posts for quality")
    parser.add_argument("--store-grids", type=int, default=800)
    parser.add_argument(
        "--parts", default="speed,store,quality", help="comma-separated subset to run"
    )
    args = parser.parse_args()
    print(f"load average at start (other jobs on this 2-core machine): {os.getloadavg()}")
    parts = set(args.parts.split(","))
    if "speed" in parts:
        speed(args.images, threads=2)
    if "store" in parts:
        store_layouts(args.store_grids)
    if "quality" in parts:
        quality(args.posts)


if __name__ == "__main__":
    main()

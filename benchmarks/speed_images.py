"""Image featurization speed (issue 21): OCR + entities + grid of the images a run reads.

Used by `benchmarks/speed.py --images`. Two sets: the demo's generated images (the demo's
generator, default kind mix, 320 x 240) and photo-like images (scikit-image's colour photos,
each also mirrored, at their own sizes: 300 to 1,411 px). A child process featurizes each set
end to end the way `mmkp prepare` does (file bytes -> `ImageFeaturizer.load` ->
`featurize` in batches of 16, the default OCR threads, torch at cores - 1 threads) and
reports images/s by wall clock and by CPU time (all threads of the process, so cores x that
figure is what the machine would give without other jobs), and its peak RSS; it writes every
image's OCR lines, entities and grid, which the parent byte-compares between the two sides.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry", "retina")
BATCH = 16


def write_images(folder: Path) -> dict[str, list[Path]]:
    """The two image sets as files under `folder` (the demo's generator, skimage photos)."""
    from PIL import Image, ImageOps
    from skimage import data

    from mmkp.data.jsonl import read_posts
    from mmkp.data.synthetic import generate

    generated = generate(folder / "demo", n_train=96, n_dev=0, n_test=0, seed=0)
    demo = [generated.train.parent / post.image for post in read_posts(generated.train)]
    demo = [path for path in demo if path.is_file()]
    photos = []
    for name in PHOTOS:
        image = Image.fromarray(getattr(data, name)()).convert("RGB")
        for variant, picture in (("", image), ("-mirrored", ImageOps.mirror(image))):
            path = folder / "photos" / f"{name}{variant}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            picture.save(path, quality=90)
            photos.append(path)
    return {"demo": demo, "photos": photos * 2}


def child(paths: list[Path], out: str) -> dict[str, float]:
    """Featurize `paths` end to end in this process; the figures, and every output to `out`."""
    import resource
    import time

    import torch

    from mmkp.features.featurizer import ImageFeaturizer

    torch.set_num_threads(max(1, (os.cpu_count() or 1) - 1))  # as `mmkp prepare` sets it
    blobs = [path.read_bytes() for path in paths]
    with ImageFeaturizer() as featurizer:
        featurizer.featurize([featurizer.load(blob) for blob in blobs[:4]])  # warm-up
        wall, cpu = time.perf_counter(), time.process_time()
        results = []
        for start in range(0, len(blobs), BATCH):
            images = [featurizer.load(blob) for blob in blobs[start : start + BATCH]]
            results += featurizer.featurize(images)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    with open(out, "w") as f:
        for path, r in zip(paths, results, strict=True):
            lines = [line.to_json() for line in r.ocr.lines]
            entities = [entity.to_json() for entity in r.entities]
            grid = hashlib.sha256(r.grid.tobytes()).hexdigest() if r.grid is not None else None
            f.write(json.dumps([path.name, r.ocr.text, lines, entities, grid, r.errors]) + "\n")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"wall": len(paths) / wall, "cpu": len(paths) / cpu, "rss": peak}

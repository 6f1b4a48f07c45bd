"""`mmkp predict --engine ray --model DIR --input 'shards/*.jsonl' --out OUT`: predictions on
Ray Data.

Each shard gets OUT/<shard name>.jsonl, the local engine's predictions file (ids, keyphrases,
scores; `PredictionWriter`), and OUT/<shard name>.errors.jsonl: its bad lines and the images
that could not be used, one JSON line each in `prepare`'s errors.jsonl form (the post is
predicted without its image, as the local engine does). `Predict` actors load the model
directory (weights and processor) once each. A shard whose predictions file exists (renamed
into place last) is finished, and a restarted job skips it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import torch

from mmkp.data.errors import ErrorLog
from mmkp.data.record import Post
from mmkp.decoding.config import DecodeConfig
from mmkp.evaluation.prediction_files import Prediction, PredictionWriter
from mmkp.features.minilm_precision import MiniLMPrecision
from mmkp.features.prepare import input_error
from mmkp.inference.predictor import ImagePolicy, Predictor
from mmkp.io import atomic_open, output_dir
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

DecodeSettings = Callable[[DecodeConfig], DecodeConfig]  # the model's decode -> the job's


class Predict:
    """The Ray actor: `__init__` loads the model directory once, `__call__` predicts a batch
    of rows with `Predictor.predict_many`, featurizing the posts' own images when the model
    reads images (unless `text_only`)."""

    def __init__(
        self,
        model: str,
        device: str | None,
        decode: DecodeSettings | None,
        batch_size: int,
        images_dir: str | None,
        text_only: bool,
        threads: int,
        retrieval_encoder: str | None = None,
        minilm_precision: MiniLMPrecision | None = None,
    ) -> None:
        torch.set_num_threads(threads)
        self.predictor = Predictor.load(model, device=device)
        if decode is not None:
            self.predictor.decode = decode(self.predictor.decode)
        if retrieval_encoder is not None:
            self.predictor.use_retrieval_encoder(retrieval_encoder)
        if minilm_precision is not None:
            self.predictor.use_minilm_precision(minilm_precision)
        self.batch_size = batch_size
        self.images_dir = images_dir
        self.featurize = self.predictor.uses_image and not text_only

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        size = len(batch["line"])
        predictions, errors = [""] * size, [[] for _ in range(size)]
        posts = posts_of(batch)
        for shard in sorted(set(batch["shard"])):
            rows = {post.id: i for i, post in posts if batch["shard"][i] == shard}
            mine = [post for i, post in posts if batch["shard"][i] == shard]
            base = image_base(shard, self.images_dir)
            report = partial(_collect, errors, rows)
            images = ImagePolicy(base=base, on_error=report) if self.featurize else None
            for result in self.predictor.predict_many(mine, self.batch_size, images=images):
                predictions[rows[result.id]] = json.dumps(asdict(result.to_prediction()))
        found = [json.dumps(e, ensure_ascii=False) for e in errors]
        return columns(batch, prediction=predictions, errors=found)


def _collect(
    errors: list[list[dict[str, str]]], rows: dict[str, int], post: Post, error: dict[str, str]
) -> None:
    """An image problem of `post`, kept with its row (`ImagePolicy.on_error`)."""
    errors[rows[post.id]].append(error)


@dataclass
class ShardedPredict:
    """What a Ray predict job did: posts predicted, bad lines and unused images over the
    shards it ran, and the shards finished by an earlier job (skipped)."""

    predicted: int = 0
    bad_lines: int = 0
    image_problems: int = 0
    shards: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def predict_shards(
    model: str | Path,
    pattern: str,
    out: str | Path,
    *,
    device: str | None = None,
    decode: DecodeSettings | None = None,
    batch_size: int = 32,
    images_dir: str | Path | None = None,
    text_only: bool = False,
    retrieval_encoder: str | None = None,
    minilm_precision: MiniLMPrecision | None = None,
    options: RayOptions | None = None,
) -> ShardedPredict:
    """Predict every shard matching `pattern` into out/<shard name>.jsonl on Ray; `decode`,
    `retrieval_encoder` and `minilm_precision` are applied on each actor as the local engine
    applies them."""
    options = options or RayOptions()
    out = output_dir(out)
    result = ShardedPredict()
    todo = []
    for shard in find_shards(pattern):
        (result.skipped if (out / f"{shard.stem}.jsonl").is_file() else todo).append(shard)
    result.skipped = [s.name for s in result.skipped]
    if not todo:
        return result
    args = {
        "model": str(model),
        "device": device,
        "decode": decode,
        "batch_size": batch_size,
        "images_dir": None if images_dir is None else str(images_dir),
        "text_only": text_only,
        "threads": max(1, int(options.num_cpus)),
        "retrieval_encoder": retrieval_encoder,
        "minilm_precision": minilm_precision,
    }
    with ray_session(options) as ray:
        for shard, rows in by_shard(run_shards(ray, todo, Predict, args, options)):
            _write_shard(rows, shard, out, result)
    for shard in todo:  # a shard without a line gives no row, yet is finished
        if shard.name not in result.shards:
            _write_shard(iter(()), shard, out, result)
    return result


def _write_shard(rows: Any, shard: Path, out: Path, result: ShardedPredict) -> None:
    """One shard's rows -> its errors file, then its predictions file (the finished mark)."""
    bad, problems = ErrorLog(), []
    with PredictionWriter(out / f"{shard.stem}.jsonl") as writer:
        for row in rows:
            if bad_line(shard, row, bad):
                continue
            prediction = Prediction(**json.loads(row["prediction"]))
            writer.write(prediction)
            problems += [{"id": prediction.id, **e} for e in json.loads(row["errors"])]
        with atomic_open(out / f"{shard.stem}.errors.jsonl") as handle:
            for error in bad.errors:
                handle.write(json.dumps(input_error(error), ensure_ascii=False) + "\n")
            for problem in problems:
                handle.write(json.dumps(problem, ensure_ascii=False) + "\n")
    result.predicted += writer.written
    result.bad_lines += len(bad)
    result.image_problems += len(problems)
    result.shards.append(shard.name)

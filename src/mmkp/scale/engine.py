"""What both Ray jobs share: the settings, the Ray session, the shards and their records.

A job reads JSONL shards (`--input 'shards/*.jsonl'`) and writes one output per shard, so a
restarted job skips the shards a previous one finished. Ray Data reads the shards: one read
task per shard turns its lines into rows with the package's JSONL reader (`shard_records`),
so bad lines are reported with their line numbers exactly as the local engine reports them;
then `map_batches` runs a callable class whose `__init__` loads the featurizer or model once
per actor. The rows come back to the driver in input order (`preserve_order`), shard after
shard, and the driver writes each shard's files with the local engine's writers.
"""

from __future__ import annotations

import glob
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path
from typing import Any

from mmkp.data.errors import ErrorLog, IdCheck, RecordError
from mmkp.data.jsonl import iter_lines, parse_json
from mmkp.data.record import Post

RAY_EXTRA = "pip install 'mmkp[ray]'"
RECORD_COLUMNS = ("shard", "line", "post", "problem")


@dataclass(frozen=True)
class RayOptions:
    """How the job runs on Ray: `address` of a running cluster (None: start a local one),
    the actor pool's size (`concurrency`), each actor's CPUs and GPUs, rows per batch."""

    address: str | None = None
    concurrency: int = 2
    num_cpus: float = 1.0
    num_gpus: float = 0.0
    batch_size: int = 16

    def __post_init__(self) -> None:
        if self.concurrency < 1 or self.batch_size < 1 or self.num_cpus <= 0:
            raise ValueError(
                "Ray concurrency and batch size must be >= 1 and num_cpus > 0, got "
                f"{self.concurrency}, {self.batch_size}, {self.num_cpus}"
            )
        if self.num_gpus < 0:
            raise ValueError(f"Ray num_gpus must be >= 0, got {self.num_gpus}")

    def map_args(self, ray: Any) -> dict[str, Any]:
        """`Dataset.map_batches`' keyword arguments for the actor pool."""
        return {
            "compute": ray.data.ActorPoolStrategy(size=self.concurrency),
            "num_cpus": self.num_cpus,
            "num_gpus": self.num_gpus,
            "batch_size": self.batch_size,
        }


@contextmanager
def ray_session(options: RayOptions) -> Iterator[Any]:
    """The `ray` module, connected: to `options.address`, to the session the caller already
    started, or to a local Ray started here (and shut down after)."""
    try:
        import ray
    except ImportError as exc:
        raise ValueError(f"--engine ray needs Ray: {RAY_EXTRA}") from exc
    started = not ray.is_initialized()
    if started:
        ray.init(address=options.address, log_to_driver=False, include_dashboard=False)
    ray.data.DataContext.get_current().execution_options.preserve_order = True
    ray.data.DataContext.get_current().enable_progress_bars = False
    try:
        yield ray
    finally:
        if started:
            ray.shutdown()


def find_shards(pattern: str) -> list[Path]:
    """The shard files a glob names, sorted; names must differ, since each shard's output is
    named after its file name."""
    shards = sorted(Path(p) for p in glob.glob(pattern))
    if not shards:
        raise FileNotFoundError(f"{pattern}: no shard files match")
    seen: dict[str, Path] = {}
    for shard in shards:
        if shard.stem in seen:
            raise ValueError(f"{seen[shard.stem]} and {shard}: two shards named {shard.stem!r}")
        seen[shard.stem] = shard
    return shards


def shard_records(item: dict[str, Any]) -> list[dict[str, Any]]:
    """One shard's rows in line order: {"shard", "line", "post": the line's JSON, "problem":
    ""} for a post, "post": "" and the problem for a bad line (as `iter_posts` reports it)."""
    path = item["shard"]
    errors, ids = ErrorLog(), IdCheck(path)
    rows: list[dict[str, Any]] = []

    def flush_errors(seen: int) -> int:
        for error in errors.errors[seen:]:
            rows.append(_row(path, error.line or 0, "", error.problem))
        return len(errors.errors)

    reported = 0
    for number, line in iter_lines(path, errors):
        reported = flush_errors(reported)
        try:
            ids.check(Post.from_dict(parse_json(line)).id, number)
        except RecordError as exc:
            rows.append(_row(path, number, "", exc.problem))
        except ValueError as exc:
            rows.append(_row(path, number, "", str(exc)))
        else:
            rows.append(_row(path, number, line, ""))
    flush_errors(reported)
    return rows


def shard_batches(batch: dict[str, Any], *, size: int) -> Iterator[dict[str, Any]]:
    """The shards' rows (`shard_records`) in batches of `size`, each its own block."""
    import numpy as np

    for shard in batch["shard"]:
        rows = shard_records({"shard": str(shard)})
        for start in range(0, len(rows), size):
            chunk = rows[start : start + size]
            yield {key: np.array([row[key] for row in chunk]) for key in RECORD_COLUMNS}


def _row(shard: str, line: int, post: str, problem: str) -> dict[str, Any]:
    return {"shard": shard, "line": line, "post": post, "problem": problem}


def by_shard(rows: Iterator[dict[str, Any]]) -> Iterator[tuple[Path, Iterator[dict[str, Any]]]]:
    """The job's output rows, shard by shard (they come in input order)."""
    for shard, group in groupby(rows, key=lambda row: row["shard"]):
        yield Path(shard), group


def bad_line(shard: Path, row: dict[str, Any], bad: ErrorLog) -> bool:
    """Whether the row is a bad input line; if so, it goes to `bad` as the local reader's."""
    if not row["problem"]:
        return False
    bad.add(RecordError(shard, int(row["line"]), row["problem"]))
    return True


def posts_of(batch: dict[str, Any]) -> list[tuple[int, Post]]:
    """The batch's posts (parsed on the worker again: rows carry JSON), by row position."""
    return [
        (i, Post.from_dict(json.loads(text)))
        for i, text in enumerate(batch["post"])
        if not batch["problem"][i]
    ]


def image_base(shard: str, images_dir: str | None) -> Path:
    """Where a shard's relative image paths start: --images, else the shard's folder."""
    return Path(images_dir) if images_dir is not None else Path(shard).parent


def columns(batch: dict[str, Any], **values: list[Any]) -> dict[str, Any]:
    """An output batch: the input's shard, line and problem columns plus `values`."""
    import numpy as np

    keep = {name: batch[name] for name in ("shard", "line", "problem")}
    return keep | {name: np.array(column, dtype=object) for name, column in values.items()}


def run_shards(
    ray: Any,
    shards: list[Path],
    worker: type,
    worker_args: dict[str, Any],
    options: RayOptions,
) -> Iterator[dict[str, Any]]:
    """Read the shards, run `worker` (a callable class) over their rows on an actor pool,
    and stream the rows back in input order."""
    items = [{"shard": str(shard)} for shard in shards]
    dataset = ray.data.from_items(items, override_num_blocks=len(items))
    # Reading is light: it takes no CPU from the actors (2 actors on 2 CPUs would starve it).
    # An actor takes a block at a time: blocks of one batch let every actor work on a shard.
    dataset = dataset.map_batches(
        shard_batches, batch_size=1, num_cpus=0, fn_kwargs={"size": options.batch_size}
    )
    dataset = dataset.map_batches(
        worker, fn_constructor_kwargs=worker_args, **options.map_args(ray)
    )
    return dataset.iter_rows()

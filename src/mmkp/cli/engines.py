"""`--engine local|ray` and the Ray settings `mmkp prepare` and `mmkp predict` share
(docs/scale.md). Declaring them loads nothing: Ray is imported only when a Ray job runs."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mmkp.scale.engine import RayOptions


def add_engine_options(parser: argparse.ArgumentParser, *, batch: str) -> None:
    """`--engine` and the Ray actor pool's settings; `batch` says what --batch-size counts."""
    group = parser.add_argument_group(
        "engine", "--engine ray: --input is a glob of JSONL shards, one output per shard"
    )
    group.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="local: this process (default); ray: Ray Data actors (pip install 'mmkp[ray]')",
    )
    group.add_argument(
        "--ray-address", help="a running Ray cluster (e.g. ray://head:10001 or auto)"
    )
    group.add_argument("--ray-concurrency", type=int, default=2, help="actors (2)")
    group.add_argument("--ray-num-cpus", type=float, default=1.0, help="CPUs per actor (1)")
    group.add_argument("--ray-num-gpus", type=float, default=0.0, help="GPUs per actor (0)")
    group.add_argument(
        "--ray-batch-size", type=int, default=16, help=f"{batch} per actor call (16)"
    )


def ray_options(args: argparse.Namespace) -> RayOptions:
    from mmkp.scale.engine import RayOptions

    return RayOptions(
        address=args.ray_address,
        concurrency=args.ray_concurrency,
        num_cpus=args.ray_num_cpus,
        num_gpus=args.ray_num_gpus,
        batch_size=args.ray_batch_size,
    )


def check_local(args: argparse.Namespace) -> None:
    """Ray settings given to the local engine are a mistake worth a clear error."""
    given = [
        f"--{name.replace('_', '-')}"
        for name, default in (
            ("ray_address", None),
            ("ray_concurrency", 2),
            ("ray_num_cpus", 1.0),
            ("ray_num_gpus", 0.0),
            ("ray_batch_size", 16),
        )
        if getattr(args, name) != default
    ]
    if args.engine == "local" and given:
        raise ValueError(f"{', '.join(given)} go with --engine ray")

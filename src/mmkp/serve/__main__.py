"""`python -m mmkp.serve` (what `mmkp serve` runs): options, then uvicorn.

    python -m mmkp.serve --model runs/demo/mm-mkp/model [--host 127.0.0.1] [--port 8000]
        [--workers N] [--threads T] [--device cuda] [--config serve.yaml]
        [--set allow_urls=true ...]

Settings (`ServeSettings`) come from an optional YAML file and `--set key=value`, checked by
the config loader like every config; the epilog of --help lists them with their defaults.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys

from mmkp.config_loader import apply_override, from_dict, load_yaml, to_dict
from mmkp.devices import DEVICE_CHOICES, resolve_device
from mmkp.inference.checkpoint import check_checkpoint
from mmkp.serve.settings import ENVIRONMENT, ServeSettings


def build_parser() -> argparse.ArgumentParser:
    listing = "\n".join(f"  {f.name} = {f.default!r}" for f in dataclasses.fields(ServeSettings))
    parser = argparse.ArgumentParser(
        prog="mmkp serve",
        description="Serve a checkpoint directory: POST /v1/keyphrases (JSON or multipart), "
        "POST /v1/keyphrases:batch, GET /v1/model, /health/live, /health/ready, the page at / "
        "and OpenAPI at /docs. The model is loaded once per worker; concurrent requests are "
        "decoded together (micro-batching); one JSON access-log line per request on stderr; "
        "SIGTERM / Ctrl-C let in-flight requests finish. See docs/serve.md.",
        epilog=f"settings (--set key=value, or a YAML file for --config):\n{listing}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--model", required=True, help="checkpoint directory")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on")
    parser.add_argument("--workers", type=int, default=1, help="processes, one model each")
    parser.add_argument("--threads", type=int, help="torch threads per worker (default: torch's)")
    parser.add_argument(
        "--device",
        help=f"where the model runs: {DEVICE_CHOICES} (the `device` setting; default cpu)",
    )
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning"])
    parser.add_argument("--config", help="YAML file of settings")
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="one setting, e.g. --set allow_urls=true --set batch_wait_ms=5 (repeatable)",
    )  # fmt: skip
    return parser


def settings_from(args: argparse.Namespace) -> ServeSettings:
    """The YAML file's settings (if any), then `--set`, then the flags that are settings."""
    overrides = [*args.overrides, *([f"device={args.device}"] if args.device else [])]
    if args.config is not None:
        return load_yaml(ServeSettings, args.config, overrides)
    raw = to_dict(ServeSettings())
    for override in overrides:
        apply_override(ServeSettings, raw, override)
    return from_dict(ServeSettings, raw, source="the command line")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        import uvicorn

        from mmkp.serve.guard import api_key
        from mmkp.serve.protocol import HeaderDeadlineProtocol
    except ImportError:
        print(
            "mmkp serve: error: needs the serve extra: pip install -e '.[serve]'", file=sys.stderr
        )
        return 2
    try:
        if args.workers < 1:
            raise ValueError(f"--workers must be >= 1, got {args.workers}")
        check_checkpoint(args.model)  # a missing or broken model fails here, not in every worker
        settings = settings_from(args)
        resolve_device(settings.device)  # likewise a device that is not here
        api_key(settings)  # and an API key variable that is not set
    except (OSError, ValueError) as exc:
        print(f"mmkp serve: error: {exc}", file=sys.stderr)
        return 2
    os.environ[ENVIRONMENT] = json.dumps(
        {"model": args.model, "threads": args.threads, "settings": to_dict(settings)}
    )
    where = f"model {args.model} on {settings.device}"
    print(f"mmkp serve: http://{args.host}:{args.port}/ ({where})", file=sys.stderr)
    uvicorn.run(
        "mmkp.serve.app:app_from_environment",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        access_log=False,  # mmkp.serve.access_log writes one JSON line per request instead
        log_level=args.log_level,
        timeout_graceful_shutdown=math.ceil(settings.shutdown_timeout),  # 0: no wait
        http=HeaderDeadlineProtocol,  # header_timeout: slow request headers are cut off
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Load on `mmkp serve` over loopback: 1 / 8 / 32 / 64 concurrent clients, text-only and with
images, mixed with bad requests, micro-batching on and off; prints a markdown table (and the
in-process predictor's throughput on the same posts, the ceiling micro-batching approaches).

    .venv/bin/mmkp demo --out runs/demo          # the model (about 4 min on 2 cores)
    .venv/bin/python benchmarks/serve_load.py --model runs/demo/mm-mkp/model \
        --data runs/demo/data/test.jsonl [--requests 320] [--image-requests 96] \
        [--clients 1 8 32 64] [--bad-share 0.2] [--configs 1]

Each configuration starts its own server (`mmkp serve --threads 1`, the given --set options),
sends a fixed number of requests from N asyncio clients (each waits for its answer before the
next), and reads the server's resident memory from /proc every 0.2 s; peak = VmHWM. A share
of the requests (`--bad-share`) are bad ones a client gets wrong (malformed JSON, no
Content-Type, text too long, base64 that is not an image, a form of 50,000 empty fields): each
must be a 4xx, and a good one a 200; the table counts good requests that failed (`errors`), the
4xx answers and every 5xx. Every request is bounded (60 s) and all go to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import torch

from mmkp.data.jsonl import read_posts
from mmkp.data.record import Post
from mmkp.inference.predictor import Predictor, RawPost

MMKP = str(Path(sys.executable).with_name("mmkp"))


@dataclass
class Run:
    name: str
    clients: int
    requests: int
    posts: int
    seconds: float
    latencies: list[float]
    errors: int
    client_errors: int
    server_errors: int
    rss_mb: list[float] = field(default_factory=list)
    peak_mb: float = 0.0

    def row(self) -> str:
        q = statistics.quantiles(self.latencies, n=100, method="inclusive")
        flat = f"{self.rss_mb[len(self.rss_mb) // 4]:.0f} / {self.rss_mb[-1]:.0f}"
        return (
            f"| {self.name} | {self.clients} | {self.requests} | {self.requests / self.seconds:.1f}"
            f" | {self.posts / self.seconds:.1f} | {q[49] * 1000:.0f} | {q[94] * 1000:.0f}"
            f" | {q[98] * 1000:.0f} | {self.errors} | {self.client_errors} | {self.server_errors}"
            f" | {flat} | {self.peak_mb:.0f} |"
        )


def memory(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process in MB."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return tuple(int(fields[k].split()[0]) / 1024 for k in ("VmRSS", "VmHWM"))  # type: ignore[return-value]


class Server:
    def __init__(self, model: str, port: int, options: list[str]):
        command = [MMKP, "serve", "--model", model, "--port", str(port), "--threads", "1",
                   "--log-level", "warning", *options]  # fmt: skip
        self.url = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen(command, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/health/ready", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError("the server did not start")

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(60)


JSON = {"content-type": "application/json"}
BAD = (  # (body, headers): requests a client gets wrong, each answered with a 4xx
    (b'{"text": "unfinished', JSON),
    (b'{"text": "no content type"}', {}),
    (json.dumps({"text": "x " * 3000}).encode(), JSON),
    (json.dumps({"text": "a", "image_base64": "bm90IGFuIGltYWdl"}).encode(), JSON),
    (b"&" * 50_000, {"content-type": "application/x-www-form-urlencoded"}),
)


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0  # good requests not answered 200 (or bad ones answered 2xx)
    client_errors: int = 0
    server_errors: int = 0


async def load(
    url: str, bodies: list[dict | tuple], clients: int, path: str
) -> tuple[float, Tally]:
    """`clients` workers sending `bodies` (a dict: a good JSON body; a tuple: a bad request)."""
    queue: asyncio.Queue[dict | tuple] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    tally = Tally()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:

        async def worker() -> None:
            while not queue.empty():
                body = queue.get_nowait()
                start = time.perf_counter()
                try:
                    if isinstance(body, dict):
                        response = await client.post(path, json=body)
                        tally.errors += response.status_code != 200
                    else:
                        response = await client.post(path, content=body[0], headers=body[1])
                        tally.errors += response.status_code < 400
                    tally.client_errors += 400 <= response.status_code < 500
                    tally.server_errors += response.status_code >= 500
                except httpx.HTTPError:
                    tally.errors += 1
                tally.latencies.append(time.perf_counter() - start)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        return time.perf_counter() - start, tally


def measure(
    server: Server, name: str, bodies: list, clients: int, path: str, posts_per: int
) -> Run:
    samples: list[float] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            samples.append(memory(server.process.pid)[0])
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    seconds, tally = asyncio.run(load(server.url, bodies, clients, path))
    done.set()
    sampler.join()
    peak = memory(server.process.pid)[1]
    good = sum(isinstance(body, dict) for body in bodies)
    return Run(
        name,
        clients,
        len(bodies),
        good * posts_per,
        seconds,
        tally.latencies,
        tally.errors,
        tally.client_errors,
        tally.server_errors,
        samples or [peak],
        peak,
    )


def in_process(model: str, raws: list[RawPost], batch: int) -> float:
    """Posts/s of Predictor.predict_batch on the same posts, `batch` at a time, 1 thread."""
    torch.set_num_threads(1)
    predictor = Predictor.load(model)
    predictor.predict_batch(raws[:2])  # load the featurizer
    start = time.perf_counter()
    for i in range(0, len(raws), batch):
        predictor.predict_batch(raws[i : i + batch])
    return len(raws) / (time.perf_counter() - start)


CONFIGS = (
    ("micro-batching (32 posts, 2 ms)", []),
    ("no batching", ["--set", "batch_max_posts=1", "--set", "batch_wait_ms=0"]),
)
HEADER = (
    "| configuration | clients | requests | req/s | posts/s | p50 ms | p95 ms | p99 ms | errors "
    "| 4xx | 5xx | RSS MB (¼ / end) | peak RSS MB |\n"
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def cycle(items: list, n: int) -> list:
    return [items[i % len(items)] for i in range(n)]


def mixed(bodies: list[dict], share: float) -> list[dict | tuple]:
    """`bodies` with every k-th replaced by a bad request (k = 1 / share), in turn."""
    if share <= 0:
        return list(bodies)
    every = max(1, round(1 / share))
    return [BAD[(i // every) % len(BAD)] if i % every == every - 1 else body
            for i, body in enumerate(bodies)]  # fmt: skip


def image_body(post: Post, folder: Path) -> dict:
    data = base64.b64encode((folder / post.image).read_bytes()).decode()
    return {"text": post.text, "image_base64": data}


def run_config(
    args: argparse.Namespace, label: str, options: list[str], texts: list, images: list
) -> list[Run]:
    server = Server(args.model, args.port, options)
    one = "/v1/keyphrases"
    try:
        measure(server, "warm-up", cycle(images, 8), 4, one, 1)
        text_load = mixed(cycle(texts, args.requests), args.bad_share)
        image_load = mixed(cycle(images, args.image_requests), args.bad_share)
        runs = [measure(server, f"text, {label}", text_load, n, one, 1) for n in args.clients]
        runs += [measure(server, f"image, {label}", image_load, n, one, 1) for n in args.clients]
        if not options:
            batches = [{"posts": cycle(texts, 8)}] * (args.requests // 8)
            name = "text, :batch of 8 posts, micro-batching"
            runs.append(measure(server, name, batches, 8, "/v1/keyphrases:batch", 8))
        return runs
    finally:
        server.close()


def soak(args: argparse.Namespace, images: list) -> None:
    """Resident memory through a long run of image requests from 32 clients (is it flat?)."""
    server = Server(args.model, args.port, [])
    try:
        soaked = mixed(cycle(images, args.soak), args.bad_share)
        run = measure(server, "image soak", soaked, 32, "/v1/keyphrases", 1)
    finally:
        server.close()
    marks = [run.rss_mb[min(len(run.rss_mb) - 1, int(len(run.rss_mb) * f))] for f in
             (0.1, 0.25, 0.5, 0.75, 0.9, 1.0)]  # fmt: skip
    print(HEADER)
    print(run.row())
    print("RSS MB at 10 / 25 / 50 / 75 / 90 / 100 % of the run: "
          + " / ".join(f"{m:.0f}" for m in marks))  # fmt: skip
    print(f"load average at the end: {os.getloadavg()}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", required=True, help="generated posts (text + image)")
    parser.add_argument("--requests", type=int, default=320, help="text-only, per config")
    parser.add_argument("--image-requests", type=int, default=96, help="with images")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32, 64])
    parser.add_argument("--bad-share", type=float, default=0.2, help="share of bad requests")
    parser.add_argument("--configs", type=int, default=len(CONFIGS),
                        help="1: micro-batching only (the default server)")  # fmt: skip
    parser.add_argument("--port", type=int, default=8731)
    parser.add_argument("--soak", type=int, help="only: this many image requests, 32 clients")
    args = parser.parse_args()
    posts = read_posts(args.data)
    folder = Path(args.data).parent
    texts = [{"text": p.text} for p in posts]
    images = [image_body(p, folder) for p in posts if p.image]
    print(f"load average before: {os.getloadavg()}", file=sys.stderr)
    if args.soak:
        soak(args, images)
        return
    rows: list[Run] = []
    for label, options in CONFIGS[: args.configs]:
        rows += run_config(args, label, options, texts, images)
        print(f"load average after {label}: {os.getloadavg()}", file=sys.stderr)
    print(HEADER)
    for run in rows:
        print(run.row())
    raws = cycle([RawPost(p.text, id=p.id) for p in posts], args.requests)
    with_images = [RawPost(p.text, folder / p.image, id=p.id) for p in posts if p.image]
    text_rate = in_process(args.model, raws, 32)
    image_rate = in_process(args.model, cycle(with_images, args.image_requests), 32)
    print(
        f"\nin process, Predictor.predict_batch of 32, 1 thread: text {text_rate:.1f} posts/s, "
        f"with images {image_rate:.1f} posts/s"
    )
    print(f"load average at the end: {os.getloadavg()}", file=sys.stderr)


if __name__ == "__main__":
    main()

"""Micro-batching: concurrent requests are decoded together on one model worker thread.

Handlers `submit` posts (text + decoded image) and await the answer. The worker takes every
post queued while it was busy, then waits up to `wait_s` after the oldest for more, up to
`max_posts`; so a lone request pays at most `wait_s`, and under load each batch holds what
arrived during the previous one: throughput approaches `Predictor.predict_batch`'s. Posts
with different decode settings are decoded as separate groups of one batch.

One worker thread owns the model (torch and the featurizer are not shared between threads);
the event loop only queues and awaits. `close` lets the worker finish everything queued.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

from mmkp.decoding.config import DecodeConfig
from mmkp.inference.predictor import PredictionResult, Predictor, PreparedPost, RawPost
from mmkp.serve.errors import ApiError

log = logging.getLogger("mmkp.serve")
Outcome = PredictionResult | ValueError


@dataclass(frozen=True)
class BatchInfo:
    """How one post was decoded: time queued, the batch's featurize and decode time, size."""

    queue_s: float
    featurize_s: float
    decode_s: float
    batch_posts: int


@dataclass
class _Job:
    post: RawPost
    decode: DecodeConfig
    future: Future[tuple[Outcome, BatchInfo]] = field(default_factory=Future)
    queued: float = field(default_factory=time.perf_counter)


_STOP = object()


class MicroBatcher:
    def __init__(
        self,
        predictor: Predictor,
        *,
        max_posts: int,
        wait_s: float,
        max_queue: int,
        on_batch: Callable[[int], None] | None = None,
    ):
        self.predictor = predictor
        self.max_posts = max_posts
        self.wait_s = wait_s
        self.max_queue = max_queue
        self.on_batch = on_batch  # called with each batch's size (tests and stats)
        self.batches = 0
        self.posts = 0
        self._queue: queue.Queue[_Job | object] = queue.Queue()
        self._pending = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="mmkp-model", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self, timeout: float | None = None) -> None:
        """Finish the queued posts, then stop the worker."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(timeout)

    async def submit(
        self, posts: list[RawPost], decode: DecodeConfig
    ) -> list[tuple[Outcome, BatchInfo]]:
        """Queue posts (one request's) and wait for all of them; 503 when the queue is full."""
        with self._lock:
            if self._pending + len(posts) > self.max_queue:
                raise ApiError(
                    503,
                    "overloaded",
                    f"{self._pending} posts are waiting for the model (limit {self.max_queue})",
                    None,
                    {"Retry-After": "1"},
                )
            self._pending += len(posts)
        jobs = [_Job(post, decode) for post in posts]
        for job in jobs:
            self._queue.put(job)
        return list(await asyncio.gather(*(asyncio.wrap_future(job.future) for job in jobs)))

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is _STOP:
                break
            assert isinstance(first, _Job)
            jobs = [first]
            deadline = first.queued + self.wait_s
            while len(jobs) < self.max_posts:
                try:
                    timeout = deadline - time.perf_counter()
                    job = (
                        self._queue.get(timeout=timeout)
                        if timeout > 0
                        else self._queue.get_nowait()
                    )
                except queue.Empty:
                    break
                if job is _STOP:
                    stopping = True  # after this batch: everything before STOP is served
                    break
                assert isinstance(job, _Job)
                jobs.append(job)
            self._decode(jobs)

    def _decode(self, jobs: list[_Job]) -> None:
        live = [job for job in jobs if job.future.set_running_or_notify_cancel()]
        with self._lock:
            self._pending -= len(jobs)
        groups: dict[DecodeConfig, list[_Job]] = {}
        for job in live:
            groups.setdefault(job.decode, []).append(job)
        started = time.perf_counter()
        for settings, group in groups.items():
            try:
                self._decode_group(group, settings, started, len(live))
            except Exception as exc:  # a bug, not a bad post: fail this group, keep serving
                log.exception("decoding a batch of %d posts failed", len(group))
                for job in group:
                    if not job.future.done():
                        job.future.set_exception(exc)
        self.batches += 1
        self.posts += len(live)
        if self.on_batch is not None:
            self.on_batch(len(live))

    def _decode_group(
        self, group: list[_Job], settings: DecodeConfig, started: float, size: int
    ) -> None:
        t0 = time.perf_counter()
        prepared = self.predictor.prepare([job.post for job in group])
        t1 = time.perf_counter()
        ready = [p for p in prepared if isinstance(p, PreparedPost)]
        decoded = iter(self.predictor.decode_prepared(ready, decode=settings))
        t2 = time.perf_counter()
        for job, item in zip(group, prepared, strict=True):
            outcome = next(decoded) if isinstance(item, PreparedPost) else item
            info = BatchInfo(started - job.queued, t1 - t0, t2 - t1, size)
            job.future.set_result((outcome, info))

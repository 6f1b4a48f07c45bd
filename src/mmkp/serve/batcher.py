"""Micro-batching: concurrent requests are decoded together on one model worker thread.

Handlers `submit` posts (text + decoded image) and await one future per post. The worker takes
every post queued while it was busy, then waits up to `wait_s` after the oldest for more, up to
`max_posts`; so a lone request pays at most `wait_s`, and under load each batch holds what
arrived during the previous one: throughput approaches `Predictor.predict_batch`'s.

A batch goes through the predictor's steps: `load_post` for each post (text normalised, image
read; a post it refuses becomes its future's `PostRefused`), `featurize` for all the others
(one CNN pass), `decode_prepared` per group of posts with the same decode settings.

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
from mmkp.inference.predictor import LoadedPost, PredictionResult, Predictor, RawPost
from mmkp.serve.errors import ApiError, PostRefused
from mmkp.serve.metrics import Metrics

log = logging.getLogger("mmkp.serve")


@dataclass(frozen=True)
class BatchInfo:
    """How one post was decoded: time queued, the batch's featurize time, its decode group's
    decode time, the batch's size."""

    queue_s: float
    featurize_s: float
    decode_s: float
    batch_posts: int


@dataclass
class _Job:
    post: RawPost
    decode: DecodeConfig
    future: Future[tuple[PredictionResult, BatchInfo]] = field(default_factory=Future)
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
        metrics: Metrics | None = None,
    ):
        self.predictor = predictor
        self.max_posts = max_posts
        self.wait_s = wait_s
        self.max_queue = max_queue
        self.on_batch = on_batch  # called with each batch's size (tests and stats)
        self.metrics = metrics  # batch sizes, featurize and decode times, queue depth
        self.batches = 0
        self.posts = 0
        self._queue: queue.Queue[_Job | object] = queue.Queue()
        self._pending = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="mmkp-model", daemon=True)
        if metrics is not None:
            metrics.watch_queue(lambda: self.pending)

    @property
    def pending(self) -> int:
        """Posts queued and not yet taken by the worker."""
        return self._pending

    def start(self) -> None:
        self._thread.start()

    def close(self, timeout: float | None = None) -> None:
        """Finish the queued posts, then stop the worker."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(timeout)

    def submit(
        self, posts: list[RawPost], decode: DecodeConfig
    ) -> list[asyncio.Future[tuple[PredictionResult, BatchInfo]]]:
        """Queue one request's posts, all or none (503 when the queue is full): a future per
        post, resolved with its result or failed with its `PostRefused`."""
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
        return [asyncio.wrap_future(job.future) for job in jobs]

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
        started = time.perf_counter()
        try:
            self._decode_batch(live, started)
        except Exception as exc:  # a bug, not a bad post: fail what is left, keep serving
            log.exception("decoding a batch of %d posts failed", len(live))
            for job in live:
                if not job.future.done():
                    job.future.set_exception(exc)
        self.batches += 1
        self.posts += len(live)
        if self.on_batch is not None:
            self.on_batch(len(live))

    def _decode_batch(self, jobs: list[_Job], started: float) -> None:
        loaded: list[tuple[_Job, LoadedPost]] = []
        for job in jobs:
            try:
                loaded.append((job, self.predictor.load_post(job.post)))
            except ValueError as exc:  # this post's own fault: the others go on
                job.future.set_exception(PostRefused(exc))
        t0 = time.perf_counter()
        prepared = self.predictor.featurize([post for _, post in loaded])
        featurize_s = time.perf_counter() - t0
        groups: dict[DecodeConfig, list[int]] = {}
        for i, (job, _) in enumerate(loaded):
            groups.setdefault(job.decode, []).append(i)
        decode_times, answers = [], []
        for settings, group in groups.items():
            t1 = time.perf_counter()
            results = self.predictor.decode_prepared([prepared[i] for i in group], decode=settings)
            decode_s = time.perf_counter() - t1
            decode_times.append(decode_s)
            for i, result in zip(group, results, strict=True):
                job = loaded[i][0]
                info = BatchInfo(started - job.queued, featurize_s, decode_s, len(jobs))
                answers.append((job, result, info))
        if self.metrics is not None:  # before the answers: a scrape after them sees the batch
            self.metrics.observe_batch(len(jobs), featurize_s if loaded else None, decode_times)
        for job, result, info in answers:
            job.future.set_result((result, info))

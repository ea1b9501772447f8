"""Handing jobs to whoever runs them: arq (distributed) or the in-process runner.

Both dedupe on `job_id`: arq refuses an id that is queued, running or has a kept
result; the embedded queue refuses an id that is pending or running. Deduplication is a
courtesy that saves work; correctness comes from the claim in the database.
"""

from __future__ import annotations

import heapq
import itertools
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from arq.connections import ArqRedis


class JobQueue(Protocol):
    async def enqueue(
        self, function: str, *args: Any, job_id: str, defer_until: datetime | None = None
    ) -> bool:
        """Queue `function(*args)`; False when a job with this id is already known."""
        ...


class ArqQueue:
    def __init__(self, redis: ArqRedis) -> None:
        self.redis = redis

    async def enqueue(
        self, function: str, *args: Any, job_id: str, defer_until: datetime | None = None
    ) -> bool:
        job = await self.redis.enqueue_job(
            function, *args, _job_id=job_id, _defer_until=defer_until
        )
        return job is not None


@dataclass(order=True)
class QueuedJob:
    run_at: float
    seq: int
    job_id: str = field(compare=False)
    function: str = field(compare=False)
    args: tuple[Any, ...] = field(compare=False)
    job_try: int = field(compare=False, default=1)


class EmbeddedQueue:
    """A time-ordered heap consumed by worker.runner.EmbeddedRunner."""

    def __init__(self) -> None:
        self._heap: list[QueuedJob] = []
        self._known: set[str] = set()
        self._seq = itertools.count()
        self.wakeup: Any = None  # set by the runner: an asyncio.Event

    def __len__(self) -> int:
        return len(self._heap)

    async def enqueue(
        self, function: str, *args: Any, job_id: str, defer_until: datetime | None = None
    ) -> bool:
        if job_id in self._known:
            return False
        run_at = defer_until.timestamp() if defer_until else time.time()
        self.push(QueuedJob(run_at, next(self._seq), job_id, function, args))
        return True

    def push(self, job: QueuedJob) -> None:
        self._known.add(job.job_id)
        heapq.heappush(
            self._heap,
            QueuedJob(job.run_at, next(self._seq), job.job_id, job.function, job.args, job.job_try),
        )
        if self.wakeup is not None:
            self.wakeup.set()

    def pop_due(self, now: float, limit: int) -> list[QueuedJob]:
        due: list[QueuedJob] = []
        while self._heap and self._heap[0].run_at <= now and len(due) < limit:
            due.append(heapq.heappop(self._heap))
        return due

    def next_run_at(self) -> float | None:
        return self._heap[0].run_at if self._heap else None

    def done(self, job_id: str) -> None:
        self._known.discard(job_id)

    def clear(self) -> None:
        """Forget every queued job (what a Redis FLUSHALL does to arq)."""
        self._heap.clear()
        self._known.clear()

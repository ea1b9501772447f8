"""The embedded job runner: the same job functions as the arq worker, run inside the
API process when no Redis is configured (`make run`).

It mirrors the arq semantics the job code relies on: dedup by job id, `_defer_until`,
`Retry(defer=…)` re-queues the same job with `job_try + 1`, and other exceptions fail
the job (the reconciler, not the queue, guarantees progress).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any

from arq.worker import Retry

from polypost.core.runtime import Runtime
from polypost.ops.metrics import JOBS
from polypost.worker.context import JobContext
from polypost.worker.queue import EmbeddedQueue, QueuedJob

logger = logging.getLogger(__name__)

JobFunction = Callable[..., Awaitable[Any]]


class EmbeddedRunner:
    def __init__(self, runtime: Runtime, *, max_jobs: int = 50) -> None:
        from polypost.worker.functions import FUNCTIONS, PERIODIC

        self.runtime = runtime
        self.functions: dict[str, JobFunction] = dict(FUNCTIONS)
        self.periodic = list(PERIODIC)
        self.worker_id = f"embedded-{socket.gethostname()}-{os.getpid()}"
        queue = runtime.queue
        assert isinstance(queue, EmbeddedQueue), "embedded runner needs the embedded queue"
        self.queue = queue
        self.max_jobs = max_jobs
        self._slots = asyncio.Semaphore(max_jobs)
        self._tasks: list[asyncio.Task[None]] = []
        self._running: set[asyncio.Task[None]] = set()
        self._wakeup = asyncio.Event()

    def context(self, job: QueuedJob | None = None) -> JobContext:
        ctx: JobContext = {"runtime": self.runtime, "worker_id": self.worker_id, "job_try": 1}
        if job is not None:
            ctx["job_try"] = job.job_try
            ctx["job_id"] = job.job_id
        return ctx

    async def start(self) -> None:
        self.runtime.extras["runner"] = self
        self.queue.wakeup = self._wakeup
        self._tasks.append(asyncio.create_task(self._dispatch()))
        for function, interval in self.periodic:
            self._tasks.append(asyncio.create_task(self._every(function, interval)))

    async def stop(self) -> None:
        for task in [*self._tasks, *self._running]:
            task.cancel()
        for task in [*self._tasks, *self._running]:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        self.queue.wakeup = None

    async def run_periodic(self, function: JobFunction) -> Any:
        return await self._call(function, self.context())

    async def run_until_idle(self, limit_seconds: float = 30.0) -> None:
        """Run due jobs (and the jobs they queue) until none is due; for tests and tools."""
        deadline = time.monotonic() + limit_seconds
        while time.monotonic() < deadline:
            due = self.queue.pop_due(time.time(), self.max_jobs)
            if not due and not self._running:
                return
            for job in due:
                self._start(job)
            if self._running:
                await asyncio.wait(self._running, return_when=asyncio.FIRST_COMPLETED)
        raise TimeoutError("jobs still running or due after the timeout")

    async def _dispatch(self) -> None:
        while True:
            self._wakeup.clear()
            for job in self.queue.pop_due(time.time(), self.max_jobs):
                await self._slots.acquire()
                self._start(job, release=True)
            next_at = self.queue.next_run_at()
            delay = 1.0 if next_at is None else max(0.0, min(1.0, next_at - time.time()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout=delay)

    def _start(self, job: QueuedJob, *, release: bool = False) -> None:
        task = asyncio.create_task(self._execute(job, release))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _execute(self, job: QueuedJob, release: bool) -> None:
        function = self.functions.get(job.function)
        try:
            if function is None:
                logger.error("unknown job function", extra={"job": job.function})
                self.queue.done(job.job_id)
                return
            try:
                await function(self.context(job), *job.args)
            except Retry as retry:
                JOBS.labels(job.function, "retry").inc()
                defer = retry.defer_score / 1000 if retry.defer_score else 0.0
                job.run_at = time.time() + defer
                job.job_try += 1
                self.queue.push(job)
                return
            except Exception:
                JOBS.labels(job.function, "error").inc()
                logger.exception("job failed", extra={"job": job.function, "jobId": job.job_id})
            else:
                JOBS.labels(job.function, "ok").inc()
            self.queue.done(job.job_id)
        finally:
            if release:
                self._slots.release()

    async def _call(self, function: JobFunction, ctx: JobContext) -> Any:
        name = getattr(function, "__name__", "job")
        try:
            result = await function(ctx)
        except Exception:
            JOBS.labels(name, "error").inc()
            logger.exception("periodic job failed", extra={"job": name})
            return None
        JOBS.labels(name, "ok").inc()
        return result

    async def _every(self, function: JobFunction, interval: float) -> None:
        while True:
            await self._call(function, self.context())
            await asyncio.sleep(interval)

"""The embedded job runner: the same job functions as the arq worker, run inside the
API process when no Redis is configured (`make run`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from typing import Any

from polypost.core.runtime import Runtime
from polypost.ops.metrics import JOBS
from polypost.worker.context import JobContext
from polypost.worker.jobs import PERIODIC

logger = logging.getLogger(__name__)

JobFunction = Callable[..., Awaitable[Any]]


class EmbeddedRunner:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.ctx: JobContext = {
            "runtime": runtime,
            "worker_id": f"embedded-{socket.gethostname()}-{os.getpid()}",
            "job_try": 1,
        }
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self.runtime.extras["runner"] = self
        for function, interval in PERIODIC:
            self._tasks.append(asyncio.create_task(self._every(function, interval)))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def run(self, function: JobFunction, *args: Any) -> Any:
        name = getattr(function, "__name__", "job")
        try:
            result = await function(self.ctx, *args)
        except Exception:
            JOBS.labels(name, "error").inc()
            logger.exception("job failed", extra={"job": name})
            return None
        JOBS.labels(name, "ok").inc()
        return result

    async def _every(self, function: JobFunction, interval: float) -> None:
        while True:
            await self.run(function)
            await asyncio.sleep(interval)

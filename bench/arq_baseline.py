"""The arq baseline: a worker process with Polypost's queue settings (max_jobs,
poll_delay, job_timeout, keep_result; passed in `BENCH_ARQ_SETTINGS` so this process
does not import Polypost and its memory is arq's own) running jobs that do nothing, or
only wait like the sandbox platform does. `python -m bench.arq_baseline` starts one."""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

from arq.connections import RedisSettings
from arq.worker import run_worker

READY_KEY = "bench:arq-ready"


async def noop(ctx: dict[str, Any]) -> None:
    """The cheapest job: what arq itself costs per job."""


async def wait_100ms(ctx: dict[str, Any]) -> None:
    """A job that only waits as long as the sandbox's simulated platform call."""
    await asyncio.sleep(0.1)


async def on_startup(ctx: dict[str, Any]) -> None:
    await ctx["redis"].sadd(READY_KEY, os.getpid())


class WorkerSettings:
    functions = [noop, wait_100ms]
    on_startup = on_startup


def main() -> None:
    redis = RedisSettings.from_dsn(os.environ["BENCH_REDIS_URL"])
    queue_settings: dict[str, Any] = json.loads(os.environ["BENCH_ARQ_SETTINGS"])
    run_worker(WorkerSettings, redis_settings=redis, **queue_settings)  # type: ignore[arg-type]


if __name__ == "__main__":
    main()

"""arq WorkerSettings for `polypost worker` (distributed mode)."""

from __future__ import annotations

import os
import socket
from typing import Any

from arq import cron
from arq.connections import RedisSettings

from polypost.core.logging import configure_logging
from polypost.core.runtime import Runtime
from polypost.settings import load_settings
from polypost.worker.jobs import heartbeat, purge_idempotency_keys


async def on_startup(ctx: dict[str, Any]) -> None:
    settings = load_settings()
    configure_logging(settings.log_level)
    ctx["runtime"] = Runtime.build(settings)
    ctx["worker_id"] = f"{socket.gethostname()}-{os.getpid()}"
    await heartbeat(ctx)  # type: ignore[arg-type]


async def on_shutdown(ctx: dict[str, Any]) -> None:
    runtime: Runtime | None = ctx.get("runtime")
    if runtime is not None:
        await runtime.close()


def redis_settings() -> RedisSettings:
    url = load_settings().redis_url
    if url is None:
        raise SystemExit("polypost worker needs POLYPOST_REDIS_URL (distributed mode).")
    return RedisSettings.from_dsn(url)


class WorkerSettings:
    functions: list[Any] = [purge_idempotency_keys]
    cron_jobs = [
        cron(heartbeat, second=set(range(0, 60, 10)), run_at_startup=False, unique=False),  # type: ignore[arg-type]
        cron(purge_idempotency_keys, minute=7, second=0),  # type: ignore[arg-type]
    ]
    on_startup = on_startup
    on_shutdown = on_shutdown
    max_jobs = 100
    job_timeout = 120
    health_check_interval = 15
    poll_delay = 0.2
    keep_result = 60

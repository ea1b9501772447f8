"""arq WorkerSettings for `polypost worker` (distributed mode)."""

from __future__ import annotations

import os
import socket
from typing import Any

from arq import cron, func
from arq.connections import RedisSettings
from prometheus_client import start_http_server

from polypost.accounts.oauth import purge_oauth_states
from polypost.accounts.tokens import refresh_expiring_tokens
from polypost.core.heap import settle_heap
from polypost.core.logging import configure_logging
from polypost.core.runtime import Runtime
from polypost.media.jobs import expire_pending_media
from polypost.ops.metrics import REGISTRY
from polypost.posts.group_jobs import publish_targets
from polypost.posts.jobs import publish_target, reconcile_targets
from polypost.settings import load_settings
from polypost.webhooks.jobs import deliver_webhooks, dispatch_events
from polypost.worker.functions import RECONCILE_INTERVAL
from polypost.worker.jobs import heartbeat, purge_idempotency_keys


async def on_startup(ctx: dict[str, Any]) -> None:
    settings = load_settings()
    configure_logging(settings.log_level)
    ctx["runtime"] = Runtime.build(settings, pre_ping=False)
    if settings.worker_metrics_port:
        start_http_server(settings.worker_metrics_port, registry=REGISTRY)
    ctx["worker_id"] = f"{socket.gethostname()}-{os.getpid()}"
    await heartbeat(ctx)  # type: ignore[arg-type]
    settle_heap()


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
    # Our own attempt bound (posts.jobs.MAX_ATTEMPTS) governs retries; arq's must not
    # fail a job that is merely waiting out a rate limit.
    functions: list[Any] = [
        purge_idempotency_keys,
        deliver_webhooks,
        func(publish_target, name="publish_target", max_tries=1000),  # type: ignore[arg-type]
        func(publish_targets, name="publish_targets", max_tries=1000),  # type: ignore[arg-type]
    ]
    cron_jobs = [
        cron(heartbeat, second=set(range(0, 60, 10)), run_at_startup=False, unique=False),  # type: ignore[arg-type]
        cron(purge_idempotency_keys, minute=7, second=0),  # type: ignore[arg-type]
        cron(expire_pending_media, minute=set(range(2, 60, 5)), second=30),  # type: ignore[arg-type]
        cron(dispatch_events, second=None),  # type: ignore[arg-type]
        cron(deliver_webhooks, second=None),  # type: ignore[arg-type]
        cron(reconcile_targets, second=set(range(0, 60, RECONCILE_INTERVAL))),  # type: ignore[arg-type]
        cron(refresh_expiring_tokens, second=20),  # type: ignore[arg-type]
        cron(purge_oauth_states, minute=23, second=40),  # type: ignore[arg-type]
    ]
    on_startup = on_startup
    on_shutdown = on_shutdown
    max_jobs = 100
    job_timeout = 120
    health_check_interval = 15
    poll_delay = 0.2
    keep_result = 60

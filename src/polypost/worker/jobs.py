"""Periodic maintenance jobs shared by the arq worker and the embedded runner."""

from __future__ import annotations

import logging

from polypost.core.idempotency import purge_expired
from polypost.worker.context import JobContext
from polypost.worker.health import record_heartbeat

logger = logging.getLogger(__name__)


async def heartbeat(ctx: JobContext) -> None:
    """Tell /readyz that a job runner is alive."""
    await record_heartbeat(ctx["runtime"], ctx["worker_id"])


async def purge_idempotency_keys(ctx: JobContext) -> int:
    """Drop Idempotency-Key records past their 24 h retention."""
    removed = await purge_expired(ctx["runtime"].sessions)
    if removed:
        logger.info("purged idempotency keys", extra={"count": removed})
    return removed


# (function, interval seconds): run by the embedded runner; arq runs them as cron jobs.
PERIODIC = [(heartbeat, 10), (purge_idempotency_keys, 3600)]

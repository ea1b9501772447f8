"""Periodic maintenance jobs shared by the arq worker and the embedded runner."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from polypost.accounts.oauth import purge_oauth_states
from polypost.accounts.tokens import refresh_expiring_tokens
from polypost.core.idempotency import purge_expired
from polypost.media.jobs import expire_pending_media
from polypost.webhooks.jobs import deliver_webhooks, dispatch_events
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
PERIODIC: list[tuple[Callable[..., Awaitable[Any]], float]] = [
    (heartbeat, 10),
    (purge_idempotency_keys, 3600),
    (expire_pending_media, 300),
]
PERIODIC += [(dispatch_events, 1), (deliver_webhooks, 1)]
PERIODIC += [(refresh_expiring_tokens, 60), (purge_oauth_states, 3600)]

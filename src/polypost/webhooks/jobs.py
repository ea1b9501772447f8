"""Webhook jobs, run every second by the arq worker (cron) and the embedded runner."""

from __future__ import annotations

import logging
import time

from polypost.webhooks import delivery, dispatch
from polypost.worker.context import JobContext

logger = logging.getLogger(__name__)

# Batches per run: a backlog drains over several runs instead of starving other jobs.
MAX_DISPATCH_BATCHES = 20


async def dispatch_events(ctx: JobContext) -> int:
    """Fan undispatched events out into deliveries; wake the sender when there are some."""
    runtime = ctx["runtime"]
    made = 0
    for _ in range(MAX_DISPATCH_BATCHES):
        result = await dispatch.dispatch_events(runtime)
        made += result.deliveries
        if result.events < dispatch.BATCH_SIZE:
            break
    if made and runtime.settings.distributed:
        # Start sending now rather than at the next cron tick; one wake-up per second.
        job_id = f"deliver_webhooks:wake:{int(time.time())}"
        await runtime.queue.enqueue("deliver_webhooks", job_id=job_id)
    return made


async def deliver_webhooks(ctx: JobContext) -> int:
    """Send due deliveries; safe to run concurrently (claims are exclusive)."""
    stats = await delivery.deliver_due(ctx["runtime"])
    if stats.attempted:
        logger.info(
            "webhook deliveries attempted",
            extra={"attempted": stats.attempted, "delivered": stats.delivered},
        )
    return stats.attempted

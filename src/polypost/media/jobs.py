"""Media maintenance: uploads that were never completed (and invalid items past their
retention) are removed with their files, so abandoned upload URLs neither hold quota
nor leave orphaned objects behind."""

from __future__ import annotations

import logging

from sqlalchemy import delete, select

from polypost.core.timeutil import utcnow
from polypost.models import Media, MediaStatus
from polypost.storage import StorageError, get_storage
from polypost.worker.context import JobContext

logger = logging.getLogger(__name__)

BATCH = 200


async def expire_pending_media(ctx: JobContext) -> int:
    """Delete expired pending/invalid media: files first, then rows (a crash in between
    leaves a row whose missing file the next run deletes again harmlessly). Only
    uploaded media ever get derivatives, so there are none to remove here."""
    runtime = ctx["runtime"]
    storage = get_storage(runtime)
    removed = 0
    while True:
        async with runtime.sessions() as session:
            rows = (
                await session.execute(
                    select(Media.id, Media.storage_key)
                    .where(
                        Media.status.in_((MediaStatus.PENDING, MediaStatus.INVALID)),
                        Media.expires_at.is_not(None),
                        Media.expires_at < utcnow(),
                    )
                    .order_by(Media.expires_at)
                    .limit(BATCH)
                )
            ).all()
            if not rows:
                break
            await session.rollback()  # no transaction is held during storage calls
            done: list[str] = []
            for row in rows:
                try:
                    await storage.delete(row.storage_key)
                except StorageError:
                    logger.warning("could not delete expired media", extra={"mediaId": row.id})
                    continue
                done.append(row.id)
            if done:
                # Re-check the state: a completion may have raced this sweep.
                await session.execute(
                    delete(Media).where(
                        Media.id.in_(done),
                        Media.status.in_((MediaStatus.PENDING, MediaStatus.INVALID)),
                        Media.expires_at < utcnow(),
                    )
                )
                await session.commit()
            removed += len(done)
            if len(rows) < BATCH or not done:
                break
    if removed:
        logger.info("expired media removed", extra={"count": removed})
    return removed

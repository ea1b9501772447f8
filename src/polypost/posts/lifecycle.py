"""State changes of posts and targets, with their outbox events, inside one transaction.

Lock order is always post row, then target rows, so concurrent workers finishing
different targets of one post serialize on the post and the derived status is computed
from committed target states (no lost updates, no deadlocks).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from polypost.core.timeutil import isoformat, utcnow
from polypost.events.outbox import record_event
from polypost.models import Post, PostStatus, PostTarget, TargetStatus
from polypost.posts.state import TERMINAL_POST_EVENTS, derive_post_status

STATUS_EVENTS: dict[PostStatus, str] = {
    **TERMINAL_POST_EVENTS,
    PostStatus.PUBLISHING: "post.publishing",
    PostStatus.SCHEDULED: "post.scheduled",
}


async def lock_post(session: AsyncSession, post_id: str) -> Post | None:
    statement = select(Post).where(Post.id == post_id).with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()


async def refresh_post_status(session: AsyncSession, post: Post) -> str:
    """Recompute the post's status from its targets; emit the event of a change."""
    statuses = list(
        (
            await session.execute(select(PostTarget.status).where(PostTarget.post_id == post.id))
        ).scalars()
    )
    new = derive_post_status(statuses)
    old = post.status
    if new == old:
        return new
    post.status = new
    post.updated_at = utcnow()
    if new in (PostStatus.PUBLISHED, PostStatus.PARTIAL) and post.published_at is None:
        post.published_at = utcnow()
    if new == PostStatus.CANCELED:
        post.canceled_at = utcnow()
    event = STATUS_EVENTS.get(PostStatus(new))
    # While a post's targets finish one by one its status can swing between scheduled and
    # publishing; subscribers hear about the start (and an activated draft) once, not
    # about every swing.
    if new == PostStatus.SCHEDULED and old != PostStatus.DRAFT:
        event = None
    if new == PostStatus.PUBLISHING and any(
        s in (TargetStatus.PUBLISHED, TargetStatus.FAILED) for s in statuses
    ):
        event = None
    if event is not None:
        record_event(
            session,
            post.workspace_id,
            event,
            post_event_data(post, statuses),
            resource_id=post.id,
        )
    return new


def post_event_data(post: Post, statuses: list[str]) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for status in statuses:
        counts[status] = counts.get(status, 0) + 1
    return {
        "postId": post.id,
        "status": post.status,
        "scheduledAt": isoformat(post.scheduled_at),
        "publishedAt": isoformat(post.published_at),
        "targets": counts,
    }


def target_event(session: AsyncSession, target: PostTarget) -> None:
    """`target.published` / `target.failed` for a target that just reached that state."""
    if target.status not in (TargetStatus.PUBLISHED, TargetStatus.FAILED):
        return
    record_event(
        session,
        target.workspace_id,
        f"target.{target.status}",
        {
            "targetId": target.id,
            "postId": target.post_id,
            "accountId": target.account_id,
            "platform": target.platform,
            "status": target.status,
            "platformPostId": target.platform_post_id,
            "permalink": target.permalink,
            "error": (
                {"code": target.error_code, "message": target.error_message}
                if target.error_code
                else None
            ),
        },
        resource_id=target.post_id,
    )

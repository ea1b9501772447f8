"""State changes of posts and targets, with their outbox events, inside one transaction.

Lock order is always post row, then target rows, so concurrent workers finishing
different targets of one post serialize on the post and the derived status is computed
from committed target states (no lost updates, no deadlocks).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Select, select, update
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
    statuses = await target_statuses(session, post.id)
    new = derive_post_status(statuses)
    old = post.status
    if new == old:
        return new
    for name, value in _status_values(post, new).items():
        setattr(post, name, value)
    _status_event(session, post, old, new, statuses)
    return new


@dataclass
class PostState:
    """The columns of a post its status changes read and write (Core, no ORM object)."""

    id: str
    workspace_id: str
    status: str
    scheduled_at: datetime | None
    published_at: datetime | None


async def lock_post_state(session: AsyncSession, post_id: str) -> PostState | None:
    """`lock_post` for the publishing hot path: the same row lock, only the columns needed."""
    return (await lock_post_states(session, [post_id])).get(post_id)


async def lock_post_states(session: AsyncSession, post_ids: list[str]) -> dict[str, PostState]:
    """The locked state of several posts, locked in id order (so two transactions
    locking overlapping sets cannot deadlock)."""
    rows = await session.execute(
        select(Post.id, Post.workspace_id, Post.status, Post.scheduled_at, Post.published_at)
        .where(Post.id.in_(sorted(post_ids)))
        .order_by(Post.id)
        .with_for_update()
    )
    return {row.id: PostState(*row) for row in rows}


async def statuses_by_post(session: AsyncSession, post_ids: list[str]) -> dict[str, list[str]]:
    """Every target status of each post, in one query."""
    found: dict[str, list[str]] = {post_id: [] for post_id in post_ids}
    rows = await session.execute(
        select(PostTarget.post_id, PostTarget.status).where(PostTarget.post_id.in_(post_ids))
    )
    for post_id, status in rows:
        found[post_id].append(status)
    return found


async def settle_post_status(
    session: AsyncSession, post: PostState, statuses: list[str] | None = None
) -> str:
    """`refresh_post_status` for a locked `PostState` (`statuses`: its targets' statuses,
    when already read under the lock)."""
    if statuses is None:
        statuses = await target_statuses(session, post.id)
    new = derive_post_status(statuses)
    old = post.status
    if new == old:
        return new
    values = _status_values(post, new)
    await session.execute(
        update(Post)
        .where(Post.id == post.id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    post.status = new
    post.published_at = values.get("published_at", post.published_at)
    _status_event(session, post, old, new, statuses)
    return new


async def flip_to_publishing(
    session: AsyncSession, post_ids: list[str] | Select[Any]
) -> list[PostState]:
    """Flip posts (ids, or a SELECT of them) to `publishing` unless they already are;
    returns those that changed, for `announce_publishing`.

    Called before their targets are claimed, or with the posts already locked, so the
    lock order stays post, then target; only the first claim of a post's burst changes
    (and locks) the post row, the others match nothing.
    """
    now = utcnow()
    rows = await session.execute(
        update(Post)
        .where(Post.id.in_(post_ids), Post.status != PostStatus.PUBLISHING)
        .values(status=PostStatus.PUBLISHING, updated_at=now)
        .returning(Post.id, Post.workspace_id, Post.scheduled_at, Post.published_at)
        .execution_options(synchronize_session=False)
    )
    return [
        PostState(
            row.id, row.workspace_id, PostStatus.PUBLISHING, row.scheduled_at, row.published_at
        )
        for row in rows
    ]


async def announce_publishing(session: AsyncSession, posts: list[PostState]) -> None:
    """The events of `flip_to_publishing`'s changes, once the claims are written."""
    if not posts:
        return
    statuses = await statuses_by_post(session, [post.id for post in posts])
    for post in posts:
        # Only a change to `scheduled` depends on the old status, so it need not be known.
        _status_event(session, post, "", PostStatus.PUBLISHING, statuses[post.id])


async def target_statuses(session: AsyncSession, post_id: str) -> list[str]:
    return (await statuses_by_post(session, [post_id]))[post_id]


def _status_values(post: PostView, new: str) -> dict[str, Any]:
    now = utcnow()
    values: dict[str, Any] = {"status": new, "updated_at": now}
    if new in (PostStatus.PUBLISHED, PostStatus.PARTIAL) and post.published_at is None:
        values["published_at"] = now
    if new == PostStatus.CANCELED:
        values["canceled_at"] = now
    return values


def _status_event(
    session: AsyncSession, post: PostView, old: str, new: str, statuses: list[str]
) -> None:
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
            post_event_data(post, statuses, status=new),
            resource_id=post.id,
        )


class PostView(Protocol):
    """What post events and status changes read: an ORM `Post` or a `PostState`."""

    id: str
    workspace_id: str
    status: str
    scheduled_at: datetime | None
    published_at: datetime | None


def post_event_data(
    post: PostView, statuses: list[str], *, status: str | None = None
) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for value in statuses:
        counts[value] = counts.get(value, 0) + 1
    return {
        "postId": post.id,
        "status": status or post.status,
        "scheduledAt": isoformat(post.scheduled_at),
        "publishedAt": isoformat(post.published_at),
        "targets": counts,
    }


class TargetView(Protocol):
    """What a target event reads: an ORM `PostTarget` or a row returned by an UPDATE."""

    id: str
    workspace_id: str
    post_id: str
    account_id: str
    platform: str
    status: str
    platform_post_id: str | None
    permalink: str | None
    error_code: str | None
    error_message: str | None


def target_event(session: AsyncSession, target: TargetView) -> None:
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

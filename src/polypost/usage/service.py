"""Usage figures for one workspace, from two aggregate queries over existing tables.

Activity (posts, targets, webhook deliveries) counts rows created in the period, by
their current status; resources (accounts, keys, endpoints, storage) are a snapshot.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import String, func, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from polypost.core.errors import BadRequest, NotFound
from polypost.models import (
    AccountStatus,
    ApiKey,
    Media,
    MediaStatus,
    Post,
    PostStatus,
    PostTarget,
    SocialAccount,
    TargetStatus,
    Webhook,
    WebhookDelivery,
    Workspace,
)
from polypost.models.webhook_delivery import DeliveryStatus
from polypost.usage.schemas import (
    AccountUsage,
    ApiKeyUsage,
    DeliveryUsage,
    MediaUsage,
    Period,
    PostUsage,
    TargetUsage,
    UsageRead,
    WebhookUsage,
)

MAX_PERIOD = timedelta(days=366)


def month_bounds(now: datetime) -> tuple[datetime, datetime]:
    """The calendar month (UTC) containing `now`: [first instant, next month's first)."""
    start = now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )
    return start, end


def resolve_period(
    start: datetime | None, end: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    """Fill missing bounds from the current month and check the range (400 if bad)."""
    month_start, month_end = month_bounds(now)
    start = start.astimezone(UTC) if start is not None else month_start
    end = end.astimezone(UTC) if end is not None else month_end
    if start >= end:
        raise BadRequest(
            "`from` must be before `to`.",
            details={"fields": [{"field": "from", "in": "query", "message": "not before to"}]},
        )
    if end - start > MAX_PERIOD:
        raise BadRequest(
            "The period may span at most 366 days.",
            details={"fields": [{"field": "to", "in": "query", "message": "period too long"}]},
        )
    return start, end


def _by_status(
    kind: str,
    status: InstrumentedAttribute[str],
    workspace: InstrumentedAttribute[str],
    created: InstrumentedAttribute[datetime],
    workspace_id: str,
    period: tuple[datetime, datetime],
) -> Any:
    return (
        select(literal(kind, String).label("kind"), status.label("status"), func.count())
        .where(workspace == workspace_id, created >= period[0], created < period[1])
        .group_by(status)
    )


def _count(model: Any, *conditions: Any) -> Any:
    return select(func.count()).select_from(model).where(*conditions).scalar_subquery()


async def compute_usage(
    session: AsyncSession,
    workspace_id: str,
    period: tuple[datetime, datetime],
    *,
    default_rate_limit: int,
    now: datetime,
) -> UsageRead:
    activity = union_all(
        _by_status("posts", Post.status, Post.workspace_id, Post.created_at, workspace_id, period),
        _by_status(
            "targets",
            PostTarget.status,
            PostTarget.workspace_id,
            PostTarget.created_at,
            workspace_id,
            period,
        ),
        _by_status(
            "deliveries",
            WebhookDelivery.status,
            WebhookDelivery.workspace_id,
            WebhookDelivery.created_at,
            workspace_id,
            period,
        ),
    )
    counts: dict[str, dict[str, int]] = {"posts": {}, "targets": {}, "deliveries": {}}
    for kind, status, count in (await session.execute(activity)).all():
        counts[kind][status] = int(count)

    live_media = (Media.workspace_id == workspace_id, Media.status != MediaStatus.INVALID)
    snapshot = (
        await session.execute(
            select(
                Workspace.storage_quota_bytes,
                Workspace.rate_limit_per_minute,
                _count(SocialAccount, SocialAccount.workspace_id == workspace_id),
                _count(
                    SocialAccount,
                    SocialAccount.workspace_id == workspace_id,
                    SocialAccount.status == AccountStatus.CONNECTED,
                ),
                _count(
                    ApiKey,
                    ApiKey.workspace_id == workspace_id,
                    ApiKey.revoked_at.is_(None),
                    (ApiKey.expires_at.is_(None)) | (ApiKey.expires_at > now),
                ),
                _count(Webhook, Webhook.workspace_id == workspace_id),
                _count(Media, *live_media),
                select(
                    func.coalesce(func.sum(func.coalesce(Media.size, Media.declared_size, 0)), 0)
                )
                .where(*live_media)
                .scalar_subquery(),
            ).where(Workspace.id == workspace_id)
        )
    ).one_or_none()
    if snapshot is None:
        raise NotFound("Workspace not found.")
    quota, rate_limit, accounts, connected, keys, endpoints, media, used = snapshot

    posts = counts["posts"]
    targets = counts["targets"]
    deliveries = counts["deliveries"]
    delivered = deliveries.get(DeliveryStatus.DELIVERED, 0)
    failed = deliveries.get(DeliveryStatus.FAILED, 0)
    canceled = deliveries.get(DeliveryStatus.CANCELED, 0)
    return UsageRead(
        period=Period.model_validate({"from": period[0], "to": period[1]}),
        posts=PostUsage(
            created=sum(posts.values()),
            by_status={status: posts.get(status, 0) for status in PostStatus} | posts,
        ),
        targets=TargetUsage.model_validate(
            {"total": sum(targets.values())}
            | {status.value: targets.get(status, 0) for status in TargetStatus}
        ),
        media=MediaUsage(count=int(media), used_bytes=int(used), quota_bytes=int(quota)),
        webhooks=WebhookUsage(
            endpoints=int(endpoints),
            deliveries=DeliveryUsage(
                delivered=delivered,
                failed=failed,
                # Waiting for a retry or being sent right now: not settled either way.
                pending=sum(deliveries.values()) - delivered - failed - canceled,
                canceled=canceled,
            ),
        ),
        accounts=AccountUsage(connected=int(connected), total=int(accounts)),
        api_keys=ApiKeyUsage(active=int(keys)),
        rate_limit_per_minute=rate_limit or default_rate_limit,
    )

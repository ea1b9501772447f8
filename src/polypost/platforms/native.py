"""Native posts read back from a platform: which of them Polypost published."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from polypost.core.errors import ApiError, ServiceUnavailable, Unprocessable
from polypost.core.timeutil import utcnow
from polypost.models import PostTarget
from polypost.platforms.base import PlatformError


async def tracked_posts(session: AsyncSession, account_id: str, ids: list[str]) -> dict[str, str]:
    """Platform post id → Polypost post id, for the ids one of the account's targets
    published (the `inDb` / `dbPostId` of `GET /v1/accounts/{id}/posts`)."""
    if not ids:
        return {}
    rows = await session.execute(
        select(PostTarget.platform_post_id, PostTarget.post_id).where(
            PostTarget.account_id == account_id, PostTarget.platform_post_id.in_(ids)
        )
    )
    return {str(row.platform_post_id): str(row.post_id) for row in rows}


def listing_error(error: PlatformError, service: str) -> ApiError:
    """A platform failure while serving an API read, as the API's own error: a platform
    that is down or throttling is a 503 (with Retry-After when known), a refusal a 422.
    `service` names the platform in the message ("Bluesky", "The instance")."""
    if error.kind in ("transient", "rate_limited"):
        headers = {}
        if error.retry_at is not None:
            seconds = max(1, int((error.retry_at - utcnow()).total_seconds()))
            headers["Retry-After"] = str(seconds)
        return ServiceUnavailable(f"{service} is unavailable: {error.message}", headers=headers)
    return Unprocessable(
        f"{service} refused the request: {error.message}",
        code="platform_error",
        details={"kind": error.kind, "platformCode": error.code},
    )

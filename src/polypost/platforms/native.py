"""Native posts read back from a platform: which of them Polypost published."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from polypost.models import PostTarget


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

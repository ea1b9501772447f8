"""Deleting a post directly on the platform by its id, tracked by Polypost or not."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import Field
from sqlalchemy import select

from polypost.accounts.service import AccountRepository
from polypost.auth.deps import PostsWrite
from polypost.core.deps import RuntimeDep, WriteSession
from polypost.core.errors import NotFound, responses
from polypost.core.schemas import ApiModel
from polypost.models import PostTarget, TargetStatus
from polypost.platforms.capabilities import capabilities_for
from polypost.platforms.credentials import load_credentials
from polypost.platforms.registry import adapter_for
from polypost.posts.lifecycle import lock_post, refresh_post_status

router = APIRouter()


class NativePostDeleted(ApiModel):
    account_id: str
    platform: str
    platform_post_id: str
    deleted: bool = Field(description="Check this, not only the HTTP status.")
    db_post_id: str | None
    reason: str | None = None


@router.delete(
    "/{account_id}/posts/{platform_post_id}",
    response_model=NativePostDeleted,
    responses=responses(NotFound),
)
async def delete_native_post(
    account_id: str,
    platform_post_id: str,
    auth: PostsWrite,
    session: WriteSession,
    runtime: RuntimeDep,
) -> NativePostDeleted:
    """Delete a post on the platform by its id; a post Polypost tracks is canceled too.
    Platforms without a delete API answer `deleted: false` with the reason."""
    async with runtime.read_sessions() as read:
        account = await AccountRepository(read, auth.workspace_id).require(account_id)
        tracked = (
            await read.execute(
                select(PostTarget.id, PostTarget.post_id).where(
                    PostTarget.account_id == account.id,
                    PostTarget.platform_post_id == platform_post_id,
                )
            )
        ).first()
    result = NativePostDeleted(
        account_id=account.id,
        platform=account.platform,
        platform_post_id=platform_post_id,
        deleted=False,
        db_post_id=tracked.post_id if tracked else None,
    )
    caps = capabilities_for(account.platform, (account.settings or {}).get("persona"))
    if not caps.delete:
        result.reason = "the platform has no delete API: remove it in the platform's app"
        return result
    # The platform call runs outside the write transaction (no lock held across it);
    # a platform failure becomes the platform_error envelope.
    adapter = adapter_for(runtime, account.platform)
    await adapter.delete(load_credentials(runtime, account), platform_post_id)
    result.deleted = True
    if tracked is not None:
        post = await lock_post(session, tracked.post_id)
        target = await session.get(PostTarget, tracked.id)
        if target is not None and target.status == TargetStatus.PUBLISHED:
            target.status = TargetStatus.CANCELED
            await session.flush()
        if post is not None:
            await refresh_post_status(session, post)
    return result

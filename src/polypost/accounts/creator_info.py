"""`GET /v1/accounts/{id}/creator-info`: a TikTok creator's posting settings.

TikTok's content-sharing guidelines ask a client to show the creator's nickname and
avatar, let the user pick one of the creator's privacy levels (no default), and show the
comment/duet/stitch toggles switched off where the creator has those interactions off
(tiktok.md §2). This route reads them live (`creator_info/query`); posts are validated
against the same answer. No database transaction is open during the platform call.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from polypost.accounts import tokens
from polypost.accounts.connect import api_error
from polypost.accounts.service import AccountRepository
from polypost.auth.deps import AccountsRead
from polypost.core.deps import RuntimeDep
from polypost.core.errors import (
    CredentialsInvalid,
    NotFound,
    NotSupported,
    PlatformFailed,
    RateLimited,
    responses,
)
from polypost.core.schemas import ApiModel
from polypost.platforms.base import Platform, PlatformError
from polypost.platforms.registry import adapter_for

router = APIRouter()

AccountId = Annotated[str, Path(min_length=1, max_length=64)]


class CreatorInfoRead(ApiModel):
    account_id: str
    platform: str
    creator_username: str | None
    creator_nickname: str | None
    creator_avatar_url: str | None
    privacy_level_options: list[str]
    comment_disabled: bool
    duet_disabled: bool
    stitch_disabled: bool
    max_video_post_duration_sec: int | None


@router.get(
    "/{account_id}/creator-info",
    response_model=CreatorInfoRead,
    responses=responses(NotFound, NotSupported, CredentialsInvalid, PlatformFailed, RateLimited),
)
async def get_creator_info(
    account_id: AccountId, auth: AccountsRead, runtime: RuntimeDep
) -> CreatorInfoRead:
    """A TikTok creator's privacy options, maximum video duration and interaction toggles."""
    async with runtime.sessions() as session:
        account = await AccountRepository(session, auth.workspace_id).require(account_id)
        platform = account.platform
    if platform != Platform.TIKTOK:
        raise NotSupported(
            "Creator info exists for TikTok accounts only.", details={"platform": platform}
        )
    adapter: Any = adapter_for(runtime, platform)
    try:
        credentials = await tokens.publish_credentials(runtime, account_id)
        info = await adapter.creator_info(credentials)
    except PlatformError as error:
        if error.kind == "auth_expired":
            raise PlatformFailed(
                f"tiktok refused the account's token: {error.message}; reconnect the account.",
                details={"platform": platform, "platformCode": error.code},
            ) from error
        raise api_error(error, platform) from error
    return CreatorInfoRead(
        account_id=account_id,
        platform=platform,
        creator_username=info.username,
        creator_nickname=info.nickname,
        creator_avatar_url=info.avatar_url,
        privacy_level_options=list(info.privacy_level_options),
        comment_disabled=info.comment_disabled,
        duet_disabled=info.duet_disabled,
        stitch_disabled=info.stitch_disabled,
        max_video_post_duration_sec=info.max_video_post_duration_sec,
    )

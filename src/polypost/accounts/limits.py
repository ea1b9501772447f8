"""An account's platform limits and, where the platform reports one, its remaining
publishing quota (Instagram's rolling 24-hour cap, `content_publishing_limit`).

The static limits are the capabilities posts are validated against (for a sandbox
account, its persona's); the quota is read live, with no database transaction open.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from polypost.accounts.pages import AccountId, load_account, platform_error
from polypost.auth.deps import AccountsRead
from polypost.core.deps import RuntimeDep
from polypost.core.errors import (
    CredentialsInvalid,
    NotFound,
    PlatformFailed,
    RateLimited,
    responses,
)
from polypost.core.schemas import ApiModel, UtcTimestamp
from polypost.core.timeutil import utcnow
from polypost.platforms.base import Capabilities, PlatformError
from polypost.platforms.capabilities import capabilities_for
from polypost.platforms.registry import FACTORIES, adapter_for
from polypost.platforms.resources import PublishingQuota

router = APIRouter()


class PublishingQuotaRead(ApiModel):
    used: int
    total: int
    remaining: int
    window_seconds: int
    resets_at: UtcTimestamp | None


class AccountLimits(ApiModel):
    account_id: str
    platform: str
    limits: dict[str, Any]
    quota: PublishingQuotaRead | None
    checked_at: UtcTimestamp


def static_limits(caps: Capabilities) -> dict[str, Any]:
    """The capabilities as numbers a client can check a post against."""
    polls = caps.polls
    return {
        "postTypes": sorted(str(t) for t in caps.post_types),
        "textLimit": caps.text_limit,
        "textUnit": caps.text_unit,
        "textLimitBytes": caps.text_limit_bytes,
        "captionLimit": caps.caption_limit,
        "typeTextLimits": {str(k): v for k, v in caps.type_text_limits.items()},
        "mediaRequired": caps.media_required,
        "maxMedia": caps.max_media,
        "mediaKinds": sorted(str(k) for k in caps.media_kinds),
        "carouselMin": caps.carousel_min,
        "carouselMax": caps.carousel_max,
        "mediaMaxBytes": {str(k): v for k, v in caps.media_max_bytes.items()},
        "imageContentTypes": sorted(caps.image_content_types),
        "feedImageAspect": list(caps.feed_image_aspect) if caps.feed_image_aspect else None,
        "videoMinDurationMs": caps.video_min_duration_ms,
        "videoMaxDurationMs": caps.video_max_duration_ms,
        "typeVideoDurationsMs": {str(k): list(v) for k, v in caps.type_video_durations.items()},
        "maxThreadSegments": caps.max_thread_segments if caps.threads else 0,
        "firstCommentLimit": caps.first_comment_limit if caps.first_comment else None,
        "altTextLimit": caps.alt_text_limit,
        "maxHashtags": caps.max_hashtags,
        "maxMentions": caps.max_mentions,
        "maxLinks": caps.max_links,
        "polls": (
            {
                "minOptions": polls.min_options,
                "maxOptions": polls.max_options,
                "maxOptionLength": polls.max_option_length,
                "minDurationMinutes": polls.min_duration_minutes,
                "maxDurationMinutes": polls.max_duration_minutes,
            }
            if polls
            else None
        ),
    }


def quota_read(quota: PublishingQuota) -> PublishingQuotaRead:
    return PublishingQuotaRead(
        used=quota.used,
        total=quota.total,
        remaining=quota.remaining,
        window_seconds=quota.window_seconds,
        resets_at=quota.resets_at,
    )


@router.get(
    "/{account_id}/limits",
    response_model=AccountLimits,
    responses=responses(NotFound, CredentialsInvalid, PlatformFailed, RateLimited),
)
async def get_account_limits(
    account_id: AccountId, auth: AccountsRead, runtime: RuntimeDep
) -> AccountLimits:
    """The account's platform limits and remaining platform publishing quota."""
    account, credentials = await load_account(runtime, auth.workspace_id, account_id)
    persona = (account.settings or {}).get("persona")
    caps = capabilities_for(account.platform, persona)
    adapter = adapter_for(runtime, account.platform) if account.platform in FACTORIES else None
    reader = getattr(adapter, "publishing_quota", None)
    quota: PublishingQuota | None = None
    if callable(reader):
        try:
            quota = await reader(credentials)
        except PlatformError as error:
            raise platform_error(error, account.platform) from error
    return AccountLimits(
        account_id=account.id,
        platform=account.platform,
        limits=static_limits(caps),
        quota=quota_read(quota) if quota else None,
        checked_at=utcnow(),
    )
